"""Adversarial captioning with a policy gradient and Monte Carlo rollouts (SeqGAN; Dai et al. 2017).

`CaptionGAN` is the part shared with Gumbel-softmax training (`tfgan_text.models.image_to_text.gumbel`):
the two networks, the discriminator update, the MLE term, the trackers, distribution-exact
noise. `SeqGAN` adds the REINFORCE generator update with rollout rewards
(`tfgan_text.models.image_to_text.rollouts`). `--mode seqgan` of `tfgan-text train captioner` trains it.
"""

import copy

import keras
import tensorflow as tf
from keras import ops

from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.image_to_text import rollouts
from tfgan_text.models.image_to_text.caption_discriminator import CaptionDiscriminator
from tfgan_text.models.image_to_text.captioner import Captioner, first_caption
from tfgan_text.models.mixed_precision import loss_scaled
from tfgan_text.models.replicas import gather_replicas, replica_position
from tfgan_text.text.vocabulary import START_ID

__all__ = ["CaptionDiscriminator", "CaptionGAN", "SeqGAN"]

BASELINES = ("mean", "greedy", "none")


class CaptionGAN(keras.Model):
    """Base of the adversarial captioning models: a `Captioner` G and a `CaptionDiscriminator` D.

    Not used alone: `SeqGAN` and `GumbelCaptionGAN` give the generator update
    (`_generator_step`) and how D's fake captions are drawn (`_fake_captions`).

    Discriminator update (`_discriminator_step`, `d_steps` times per batch), Dai et al. 2017:
    per image, `BCE(D(I, S), 1) + fake_weight * BCE(D(I, G(I)), 0) + wrong_weight *
    BCE(D(I, S_wrong), 0)` (`losses.caption_discriminator_loss`), with `S` the image's real
    caption, `G(I)` a caption freshly sampled from G and `S_wrong` a real caption of another
    image (the batch's `wrong_token_ids`); D's image encoder runs once per image for the three.

    The generator's loss adds `mle_weight` times the teacher-forced cross-entropy of the image's
    real caption (`losses.caption_crossentropy`, a per-token mean), which keeps G fluent (GAN
    captioners drift into disfluent or repeated sentences without it; it also stands in for
    SeqGAN's interleaved MLE epochs).

    Distribution: per-example losses are summed per replica and divided by the global batch
    size (`tf.nn.compute_average_loss`), and every random draw is made for the global batch from
    the model's `SeedGenerator` and sliced to the replica's rows, so under `MirroredStrategy` a
    step equals one-device training on the same global batch (batch norm in the image encoders
    must be synchronized for that; `ImageEncoder`'s is).

    The discriminator gives G its signal in inference mode (batch norm on moving statistics):
    rollout rewards, baselines and the Gumbel generator loss.

    Args (shared by the subclasses):
        captioner: a built `Captioner` (G), usually pretrained by MLE.
        discriminator: a built `CaptionDiscriminator` (D) with the same vocabulary.
        mle_weight: float >= 0, weight of the MLE term in G's loss.
        d_steps: int >= 1, discriminator updates per batch (fresh fake captions each).
        fake_weight: float, weight of the generated-caption term of D's loss.
        wrong_weight: float, weight of the wrong-caption term of D's loss.
        discriminator_only: bool, train only D (its pretraining before the adversarial stage,
            as SeqGAN pretrains its discriminator); G is only sampled from.
        seed: int or None, seed of the model's `keras.random.SeedGenerator`.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(
        self,
        captioner,
        discriminator,
        mle_weight=1.0,
        d_steps=1,
        fake_weight=1.0,
        wrong_weight=1.0,
        discriminator_only=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not (captioner.built and discriminator.built):
            raise UserError(
                "build the captioner and the discriminator first, e.g. "
                'network.build({"image": (None, size, size, 3)})'
            )
        if captioner.vocabulary_size != discriminator.vocabulary_size:
            raise UserError(
                f"captioner and discriminator vocabularies differ: "
                f"{captioner.vocabulary_size} != {discriminator.vocabulary_size}"
            )
        if mle_weight < 0:
            raise UserError(f"mle_weight must be >= 0, got {mle_weight}")
        if int(d_steps) != d_steps or d_steps < 1:
            raise UserError(f"d_steps must be an integer >= 1, got {d_steps}")
        self.captioner = captioner
        self.discriminator = discriminator
        self.mle_weight = mle_weight
        self.d_steps = int(d_steps)
        self.fake_weight = fake_weight
        self.wrong_weight = wrong_weight
        self.discriminator_only = discriminator_only
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.d_wrong_tracker = keras.metrics.Mean(name="d_wrong")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.mle_tracker = keras.metrics.Mean(name="mle")
        self.reward_tracker = keras.metrics.Mean(name="reward")

    @property
    def caption_length(self):
        """int L: generated tokens per caption, `<end>` included (`max_length - 1`)."""
        return self.captioner.max_length - 1

    @property
    def metrics(self):
        """Epoch means: `d_loss`; D's probabilities `d_real`, `d_fake`, `d_wrong` (real caption,
        generated caption, other image's caption); and unless `discriminator_only`: `g_loss`
        (per-caption generator loss), `mle` (its MLE term before weighting) and `reward` (D's
        probability of G's captions)."""
        d_metrics = [self.d_loss_tracker, self.d_real_tracker, self.d_fake_tracker, self.d_wrong_tracker]
        if self.discriminator_only:
            return d_metrics
        return d_metrics + [self.g_loss_tracker, self.mle_tracker, self.reward_tracker]

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """Configures training; call it in `strategy.scope()` when training under a strategy.

        Args:
            g_optimizer: optimizer of G; default Adam(1e-4): G comes pretrained, and the
                adversarial stage fine-tunes it at a tenth of the usual MLE rate.
            d_optimizer: optimizer of D; default Adam(1e-4), SeqGAN's discriminator rate.
            **kwargs: passed to `keras.Model.compile` (`run_eagerly`, `jit_compile`, ...).

        Under `mixed_float16` both optimizers are wrapped in a `LossScaleOptimizer` (`loss_scaled`).
        """
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = loss_scaled(g_optimizer or keras.optimizers.Adam(1e-4), self)
        self.d_optimizer = loss_scaled(d_optimizer or keras.optimizers.Adam(1e-4), self)
        self.g_optimizer.build(self.captioner.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def call(self, inputs, training=False):
        """`{"image", "token_ids"}` -> the captioner's teacher-forced logits `[B, T-1, V]`."""
        return self.captioner(inputs, training=training)

    # Randomness and averaging over the global batch.

    def _uniform(self, shape, batch_axis, offset, local_size, global_size):
        """This replica's rows of uniform [0, 1) noise drawn for the global batch.

        `shape` is the full shape with `None` on `batch_axis`; every replica draws the same
        tensor (same seed state) and keeps its own rows along that axis.
        """
        shape = tuple(global_size if axis == batch_axis else size for axis, size in enumerate(shape))
        noise = keras.random.uniform(shape, seed=self.seed_generator)
        return tf.gather(noise, tf.range(offset, offset + local_size), axis=batch_axis)

    @staticmethod
    def _average(per_example, global_size):
        return tf.nn.compute_average_loss(per_example, global_batch_size=global_size)

    # The training step.

    def train_step(self, data):
        """`d_steps` discriminator updates, then (unless `discriminator_only`) one generator update."""
        batch = data[0] if isinstance(data, (tuple, list)) else data
        images = ops.convert_to_tensor(batch["image"])
        token_ids = ops.cast(first_caption(batch["token_ids"]), "int32")
        wrong_ids = ops.cast(first_caption(batch["wrong_token_ids"]), "int32")
        local_size = ops.shape(images)[0]
        offset, global_size = replica_position(local_size)
        for _ in range(self.d_steps):
            self._discriminator_step(images, token_ids[:, 1:], wrong_ids[:, 1:], offset, local_size, global_size)
        if not self.discriminator_only:
            self._generator_step(images, token_ids, offset, local_size, global_size)
        return {metric.name: metric.result() for metric in self.metrics}

    def _fake_captions(self, images, offset, local_size, global_size):
        """D's fake input: `{"tokens": ...}` or `{"soft_tokens": ...}` sampled from G (no gradient)."""
        raise NotImplementedError

    def _discriminator_step(self, images, real, wrong, offset, local_size, global_size):
        """One update of D on real (1), generated (0) and wrong (0) captions of the images."""
        fake = self._fake_captions(images, offset, local_size, global_size)
        fake = {key: ops.stop_gradient(value) for key, value in fake.items()}
        with tf.GradientTape() as tape:
            embedded = [
                self.discriminator.embed_captions(tokens=real),
                self.discriminator.embed_captions(**fake),
                self.discriminator.embed_captions(tokens=wrong),
            ]
            image_features = self.discriminator.encode_images(images, training=True)
            sentences = self._encode_together(embedded, training=True)  # one LSTM call for the three
            real_logits, fake_logits, wrong_logits = [self.discriminator.match(image_features, x) for x in sentences]
            per_example = losses.caption_discriminator_loss(
                real_logits, fake_logits, wrong_logits, fake_weight=self.fake_weight, wrong_weight=self.wrong_weight
            )
            loss = self.d_optimizer.scale_loss(self._average(per_example, global_size))
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(loss, variables), variables)
        self.d_loss_tracker.update_state(per_example)
        self.d_real_tracker.update_state(ops.sigmoid(real_logits))
        self.d_fake_tracker.update_state(ops.sigmoid(fake_logits))
        self.d_wrong_tracker.update_state(ops.sigmoid(wrong_logits))

    def _encode_together(self, embedded, training):
        """Sentence embeddings of several `(embedded, mask)` batches of B captions, in one LSTM call.

        The batches are padded (masked) to the longest and stacked along the batch axis, so the
        LSTM is traced, and run, once; returns one `[B, hidden]` tensor per batch.
        """
        length = ops.max(ops.stack([ops.shape(mask)[1] for _, mask in embedded]))
        sequences, masks = [], []
        for sequence, mask in embedded:
            extra = length - ops.shape(mask)[1]
            sequences.append(tf.pad(sequence, [[0, 0], [0, extra], [0, 0]]))
            masks.append(tf.pad(mask, [[0, 0], [0, extra]]))
        sentences = self.discriminator.encode_embedded(
            ops.concatenate(sequences, axis=0), ops.concatenate(masks, axis=0), training=training
        )
        return tf.split(sentences, len(embedded), axis=0)

    def _mle_loss(self, features, token_ids):
        """Per-example teacher-forced cross-entropy of the real captions `token_ids [B, T]`."""
        logits = self.captioner.sequence_logits(features, token_ids[:, :-1], training=True)
        return losses.caption_crossentropy(logits, token_ids[:, 1:])

    def _apply_generator_loss(self, tape, loss, per_example, mle, reward):
        """Updates G by the gradient of `loss` (recorded on `tape`, scaled by `g_optimizer.scale_loss`)
        and the trackers."""
        variables = self.captioner.trainable_variables
        self.g_optimizer.apply(tape.gradient(loss, variables), variables)
        self.g_loss_tracker.update_state(per_example)
        self.mle_tracker.update_state(mle)
        self.reward_tracker.update_state(reward)

    def _generator_step(self, images, token_ids, offset, local_size, global_size):
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "captioner": keras.saving.serialize_keras_object(self.captioner),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "mle_weight": self.mle_weight,
                "d_steps": self.d_steps,
                "fake_weight": self.fake_weight,
                "wrong_weight": self.wrong_weight,
                "discriminator_only": self.discriminator_only,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserializing consumes the nested configs
        for key in ("captioner", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfgan_text")
class SeqGAN(CaptionGAN):
    """Adversarial captioning by policy gradient with Monte Carlo rollouts (SeqGAN, Dai et al.).

    Each `train_step`: `d_steps` discriminator updates (see `CaptionGAN`), then one generator
    update: G samples a caption `w_1..w_L` per image; the reward of token t is `Q_t`, the mean
    over `num_rollouts` rollouts of D's probability that the completed caption is a real
    caption of the image (`rollouts.rollout_rewards`; the last token's reward is D's score of the
    caption itself); G's loss per image is `-sum_t log pi(w_t) (Q_t - b_t)` over the generated
    tokens up to `<end>` (`losses.policy_gradient_loss`) plus `mle_weight` times the MLE loss
    of the image's real caption.

    Baselines `b_t` (`baseline`):
        - `"mean"` (default): the mean reward of the rollouts from the previous prefix,
          `b_t = Q_{t-1}` for t >= 2: the Monte Carlo value of the prefix `w_<t` in which `w_t`
          is chosen, drawn by rollouts that did not see `w_t`, so the policy gradient stays
          unbiased and `Q_t - Q_{t-1}` is what choosing `w_t` added; `b_1` is the mean of `Q_1`
          over the global batch.
        - `"greedy"`: D's probability of G's greedy caption of the image, for every t
          (self-critical sequence training's baseline, with D as the scorer).
        - `"none"`: `b_t = 0`, SeqGAN as published.

    Args:
        captioner, discriminator, mle_weight, d_steps, fake_weight, wrong_weight,
            discriminator_only, seed: see `CaptionGAN`. `mle_weight` 1.0 by default: the MLE
            term is a per-token mean while the policy gradient sums over tokens with advantages
            of order 0.1, so a weight of 1 keeps the two of the same order.
        num_rollouts: int R >= 1, rollouts per prefix (16, as SeqGAN; Dai et al. use 64).
        entropy_weight: float >= 0, weight of an entropy bonus: G's loss subtracts this times
            the entropy of its next-token distributions summed over the sampled caption
            (`losses.policy_entropy`). 0 (default) is SeqGAN as published; a small weight keeps
            the policy gradient from narrowing G's samples of an image to fewer than people's.
        baseline: `"mean"`, `"greedy"` or `"none"` (above).
        rollout_update_rate: None (default): rollouts are sampled by the current G, continuing
            from the states of its own sampling pass. A float in [0, 1): rollouts are sampled
            by a lagged copy of G (`rollout_policy`), updated after each generator step as
            `rollout = rate * rollout + (1 - rate) * G` (SeqGAN uses 0.8).
        **kwargs: passed to `keras.Model`.

    Training batches are dicts with `image` (float `[B, S, S, 3]` in [-1, 1]), `token_ids`
    (int `[B, T]`, `<start> ... <end>` padded, or `[B, K, T]` of which the first caption is
    used) and `wrong_token_ids` (the same, a real caption of another image); other keys are
    ignored, as `tfgan_text.data.pipeline.training_pipeline` gives them.

    Example:
        discriminator = CaptionDiscriminator(vocabulary_size)
        discriminator.build({"image": (None, 64, 64, 3)})
        pretrain = SeqGAN(captioner, discriminator, discriminator_only=True, seed=0)
        pretrain.compile()
        pretrain.fit(batches, epochs=1, steps_per_epoch=steps)  # D pretraining
        gan = SeqGAN(captioner, discriminator, num_rollouts=16, seed=0)
        gan.compile()
        gan.fit(batches, epochs=5, steps_per_epoch=steps)

    References: Yu et al. 2017, "SeqGAN: Sequence Generative Adversarial Nets with Policy
    Gradient" (AAAI); Dai et al. 2017, "Towards Diverse and Natural Image Descriptions via a
    Conditional GAN" (ICCV); Rennie et al. 2017, "Self-critical Sequence Training".
    """

    def __init__(
        self,
        captioner,
        discriminator,
        num_rollouts=16,
        baseline="mean",
        mle_weight=1.0,
        rollout_update_rate=None,
        entropy_weight=0.0,
        d_steps=1,
        fake_weight=1.0,
        wrong_weight=1.0,
        discriminator_only=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            captioner,
            discriminator,
            mle_weight=mle_weight,
            d_steps=d_steps,
            fake_weight=fake_weight,
            wrong_weight=wrong_weight,
            discriminator_only=discriminator_only,
            seed=seed,
            **kwargs,
        )
        if int(num_rollouts) != num_rollouts or num_rollouts < 1:
            raise UserError(f"num_rollouts must be an integer >= 1, got {num_rollouts}")
        if baseline not in BASELINES:
            raise UserError(f"baseline must be one of {BASELINES}, got {baseline!r}")
        if rollout_update_rate is not None and not 0.0 <= rollout_update_rate < 1.0:
            raise UserError(f"rollout_update_rate must be None or in [0, 1), got {rollout_update_rate}")
        if not entropy_weight >= 0:
            raise UserError(f"entropy_weight must be >= 0, got {entropy_weight}")
        self.entropy_weight = entropy_weight
        self.num_rollouts = int(num_rollouts)
        self.baseline = baseline
        self.rollout_update_rate = rollout_update_rate
        self.rollout_policy = None
        if rollout_update_rate is not None:
            config = captioner.get_config()
            config["name"] = f"{captioner.name}_rollout"
            self.rollout_policy = Captioner.from_config(config)
            self.rollout_policy.build({"image": captioner.image_shape})
            self.rollout_policy.set_weights(captioner.get_weights())
            self.rollout_policy.trainable = False
        self.built = True  # every weight lives in the (built) networks

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """`CaptionGAN.compile`; with XLA (`jit_compile=True`) only when `discriminator_only`:
        the rollouts' batch shrinks at every continuation step (`rollouts.rollout_rewards`), a
        shape XLA cannot compile (it needs the shapes inside a loop fixed)."""
        if kwargs.get("jit_compile") is True and not self.discriminator_only:
            raise UserError("SeqGAN's Monte Carlo rollouts do not compile with XLA (their batch shrinks at every "
                            "step, and XLA needs fixed shapes): train it without jit_compile")
        super().compile(g_optimizer, d_optimizer, **kwargs)

    def _fake_captions(self, images, offset, local_size, global_size):
        uniforms = self._uniform((self.caption_length, None), 1, offset, local_size, global_size)
        features = self.captioner.encode_images(images, training=False)
        tokens, _ = rollouts.sample_captions(self.captioner, features, uniforms)
        return {"tokens": tokens}

    def _generator_step(self, images, token_ids, offset, local_size, global_size):
        """One REINFORCE update of G with rollout rewards, a baseline and the MLE term."""
        length = self.caption_length
        sample_noise = self._uniform((length, None), 1, offset, local_size, global_size)
        rollout_noise = self._uniform(
            (self.num_rollouts, length - 1, length - 1, None), 3, offset, local_size, global_size
        )
        with tf.GradientTape() as tape:
            features = self.captioner.encode_images(images, training=True)
            with tape.stop_recording():
                tokens, states = rollouts.sample_captions(self.captioner, ops.stop_gradient(features), sample_noise)
                if self.rollout_policy is not None:  # its own features and teacher-forced pass
                    policy, states, policy_features = self.rollout_policy, None, None
                else:
                    policy, policy_features = self.captioner, ops.stop_gradient(features)
                image_features = self.discriminator.encode_images(images, training=False)
                rewards = rollouts.rollout_rewards(
                    policy, self.discriminator, images, tokens, rollout_noise, states=states,
                    image_features=image_features, policy_features=policy_features,
                )
                advantages = rewards - self._baselines(rewards, ops.stop_gradient(features), image_features)
            inputs = ops.concatenate([ops.full_like(tokens[:, :1], START_ID), tokens[:, :-1]], axis=1)
            logits = self.captioner.sequence_logits(features, inputs, training=True)
            mask = rollouts.generated_mask(tokens)
            policy_loss = losses.policy_gradient_loss(rollouts.token_log_probs(logits, tokens), advantages, mask)
            mle = self._mle_loss(features, token_ids)
            per_example = policy_loss + self.mle_weight * mle
            if self.entropy_weight:
                entropy = losses.policy_entropy(rollouts.policy_log_probs(logits), mask)
                per_example -= self.entropy_weight * entropy
            loss = self.g_optimizer.scale_loss(self._average(per_example, global_size))
        self._apply_generator_loss(tape, loss, per_example, mle, rewards[:, -1])
        if self.rollout_policy is not None:
            self._update_rollout_policy()

    def _baselines(self, rewards, features, image_features):
        """float32 `[B, L]`: `b_t` of the configured baseline (see the class docstring)."""
        if self.baseline == "none":
            return ops.zeros_like(rewards)
        if self.baseline == "greedy":
            greedy = rollouts.greedy_captions(self.captioner, features, self.caption_length)
            score = ops.sigmoid(ops.cast(self.discriminator.score(image_features, tokens=greedy), "float32"))
            return ops.broadcast_to(score[:, None], ops.shape(rewards))
        first = ops.mean(gather_replicas(rewards[:, 0]))
        return ops.concatenate([ops.full_like(rewards[:, :1], first), rewards[:, :-1]], axis=1)

    def _update_rollout_policy(self):
        """`rollout = rate * rollout + (1 - rate) * G`, every weight (batch-norm statistics too)."""
        rate = self.rollout_update_rate
        for lagged, current in zip(self.rollout_policy.weights, self.captioner.weights):
            lagged.assign(rate * lagged + (1.0 - rate) * current)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_rollouts": self.num_rollouts,
                "baseline": self.baseline,
                "rollout_update_rate": self.rollout_update_rate,
                "entropy_weight": self.entropy_weight,
            }
        )
        return config
