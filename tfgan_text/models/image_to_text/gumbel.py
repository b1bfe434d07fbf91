"""Adversarial captioning with straight-through Gumbel-softmax samples, as a Keras model."""

import math

import keras
import tensorflow as tf
from keras import ops

from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.image_to_text import rollouts
from tfgan_text.models.image_to_text.seqgan import CaptionGAN
from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID

_TINY = 1e-7  # uniforms are clipped to [tiny, 1 - tiny] before the double log


def gumbel_temperature(step, initial=1.0, minimum=0.1, decay_rate=1e-4):
    """`max(minimum, initial * exp(-decay_rate * step))` (Jang et al. 2017's annealing), float32."""
    step = ops.cast(step, "float32")
    return ops.maximum(ops.cast(minimum, "float32"), initial * ops.exp(-decay_rate * step))


def straight_through_gumbel(logits, uniform, temperature):
    """Straight-through Gumbel-softmax sample of `logits [N, V]` with uniforms `[N, V]` in [0, 1).

    Forward: the one-hot of `argmax(logits + g)`, `g = -log(-log u)` (an exact sample of
    `softmax(logits)`). Backward: the gradient of `softmax((logits + g) / temperature)`.

    Returns:
        `(one_hot, ids)`: float32 `[N, V]` and int32 `[N]`.
    """
    uniform = ops.clip(ops.cast(uniform, "float32"), _TINY, 1.0 - _TINY)
    perturbed = ops.cast(logits, "float32") - ops.log(-ops.log(uniform))
    soft = ops.softmax(perturbed / temperature, axis=-1)
    ids = ops.cast(ops.argmax(perturbed, axis=-1), "int32")
    hard = ops.one_hot(ids, soft.shape[-1])
    return ops.stop_gradient(hard - soft) + soft, ids


def gumbel_captions(captioner, features, uniforms, temperature, training=False):
    """Captions as straight-through one-hots, fed back to the decoder through its embeddings.

    Each step's (straight-through) one-hot times `captioner.embedding.embeddings` is the next
    input (`captioner.step_embedded`), so D's gradient reaches every earlier step. `PAD_ID` and
    `START_ID` are never generated; after `<end>` the rows are exact `PAD_ID` one-hots (no
    gradient).

    Args:
        captioner: a `Captioner`.
        features: float `[B, ...]`, `captioner.encode_images(images)`.
        uniforms: float `[L, B, V]` in [0, 1): the Gumbel noise of each step.
        temperature: float scalar (tensor or variable), the softmax temperature of the backward pass.
        training: bool, passed to the decoder.

    Returns:
        `(soft_tokens, tokens)`: float32 `[B, L, V]` (exact one-hots forward) and int32 `[B, L]`.
    """
    vocabulary_size = captioner.vocabulary_size
    batch = ops.shape(features)[0]
    embeddings = ops.cast(captioner.embedding.embeddings, "float32")
    pad = ops.one_hot(ops.full((batch,), PAD_ID, "int32"), vocabulary_size)
    state = captioner.initial_state(features)
    embedded = captioner.embedding(ops.full((batch,), START_ID, "int32"))
    finished = ops.zeros((batch,), "bool")
    soft_tokens, tokens = [], []
    for i in range(uniforms.shape[0]):
        logits, state = captioner.step_embedded(embedded, state, features, training=training)
        one_hot, ids = straight_through_gumbel(rollouts.policy_logits(logits), uniforms[i], temperature)
        one_hot = ops.where(finished[:, None], pad, one_hot)
        ids = ops.where(finished, PAD_ID, ids)
        finished = ops.logical_or(finished, ops.equal(ids, END_ID))
        soft_tokens.append(one_hot)
        tokens.append(ids)
        embedded = ops.matmul(one_hot, embeddings)
    return ops.stack(soft_tokens, axis=1), ops.stack(tokens, axis=1)


@keras.saving.register_keras_serializable(package="tfgan_text")
class GumbelCaptionGAN(CaptionGAN):
    """Adversarial captioning through straight-through Gumbel-softmax samples.

    G generates each token as a straight-through Gumbel-softmax one-hot (`gumbel_captions`):
    forward the exact one-hot of a sample, backward the gradient of the tempered softmax. The
    one-hot times the embedding matrix is fed back as the next input, and D reads the one-hots
    as `soft_tokens`, so D's logit is differentiable in G's weights and G minimises the
    non-saturating loss `-log D(I, G(I))` directly (no rollouts), plus `mle_weight` times the
    MLE loss of the real caption. D's update is `CaptionGAN`'s (real 1, generated 0, wrong 0).

    The temperature follows `tau = max(temperature_min, temperature_initial *
    exp(-temperature_decay * step))`, `step` being G's update count (Jang et al. 2017's
    schedule); it lives in the non-trainable variable `temperature`, set at every step, and is
    tracked as the `temperature` metric. Defaults 1.0 -> 0.1 at rate 1e-4: about 0.37 after
    10,000 updates and the floor after 23,000. As the forward pass is always the hard sample,
    tau only trades the gradient's bias (high tau) against its variance (low tau).

    Args:
        captioner, discriminator, mle_weight, d_steps, fake_weight, wrong_weight,
            discriminator_only, seed: see `CaptionGAN` (`mle_weight` 1.0 by default: the
            adversarial loss and the MLE term are then per-caption losses of the same order).
        temperature_initial: float > 0, tau at step 0.
        temperature_min: float > 0, the floor of tau.
        temperature_decay: float >= 0, the rate of the exponential decay per G update.
        **kwargs: passed to `keras.Model`.

    Example:
        gan = GumbelCaptionGAN(captioner, discriminator, seed=0)
        gan.compile()
        gan.fit(batches, epochs=5, steps_per_epoch=steps)

    References: Jang, Gu & Poole 2017, "Categorical Reparameterization with Gumbel-Softmax";
    Shetty et al. 2017, "Speaking the Same Language: Matching Machine to Human Captions by
    Adversarial Training" (Gumbel-softmax captioning GAN).
    """

    def __init__(
        self,
        captioner,
        discriminator,
        temperature_initial=1.0,
        temperature_min=0.1,
        temperature_decay=1e-4,
        mle_weight=1.0,
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
        if not (temperature_initial > 0 and temperature_min > 0 and temperature_decay >= 0):
            raise UserError(
                "temperatures must be > 0 and the decay >= 0, got "
                f"{temperature_initial}, {temperature_min}, {temperature_decay}"
            )
        if not math.isfinite(temperature_initial * temperature_min * (1.0 + temperature_decay)):
            raise UserError("temperature settings must be finite")
        self.temperature_initial = temperature_initial
        self.temperature_min = temperature_min
        self.temperature_decay = temperature_decay
        self.temperature = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(max(temperature_min, temperature_initial)),
            trainable=False,
            name="temperature",
        )
        self.temperature_tracker = keras.metrics.Mean(name="temperature")
        self.built = True

    @property
    def metrics(self):
        """`CaptionGAN`'s, and `temperature` (its value in the generator steps)."""
        return super().metrics + ([] if self.discriminator_only else [self.temperature_tracker])

    def _fake_captions(self, images, offset, local_size, global_size):
        uniforms = self._uniform(
            (self.caption_length, None, self.captioner.vocabulary_size), 1, offset, local_size, global_size
        )
        features = self.captioner.encode_images(images, training=False)
        soft_tokens, _ = gumbel_captions(self.captioner, features, uniforms, self.temperature)
        return {"soft_tokens": soft_tokens}

    def _generator_step(self, images, token_ids, offset, local_size, global_size):
        """One update of G on `-log D(I, G(I))` through the straight-through samples, plus MLE."""
        step = self.g_optimizer.iterations
        self.temperature.assign(
            gumbel_temperature(step, self.temperature_initial, self.temperature_min, self.temperature_decay)
        )
        uniforms = self._uniform(
            (self.caption_length, None, self.captioner.vocabulary_size), 1, offset, local_size, global_size
        )
        with tf.GradientTape() as tape:
            features = self.captioner.encode_images(images, training=True)
            soft_tokens, _ = gumbel_captions(self.captioner, features, uniforms, self.temperature, training=True)
            logits = self.discriminator({"image": images, "soft_tokens": soft_tokens}, training=False)
            adversarial = losses.non_saturating_generator_loss(logits)
            mle = self._mle_loss(features, token_ids)
            per_example = adversarial + self.mle_weight * mle
            loss = self.g_optimizer.scale_loss(self._average(per_example, global_size))
        self._apply_generator_loss(tape, loss, per_example, mle, ops.sigmoid(logits))
        self.temperature_tracker.update_state(self.temperature)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "temperature_initial": self.temperature_initial,
                "temperature_min": self.temperature_min,
                "temperature_decay": self.temperature_decay,
            }
        )
        return config
