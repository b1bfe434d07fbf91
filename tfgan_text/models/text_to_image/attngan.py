"""AttnGAN as a Keras model trained by `fit` (Xu et al. 2018).

`AttnGAN` holds a pretrained, frozen DAMSM (text encoder and image encoder), the multi-stage
attentional generator and one discriminator per stage, and trains them with its own
`train_step`: on one device or under any `tf.distribute` strategy with the result of one
device on the same global batch.
"""

import copy

import keras
import tensorflow as tf
from keras import ops

from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.freezing import set_trainable
from tfgan_text.models.mixed_precision import loss_scaled
from tfgan_text.models.replicas import gather_replicas, replica_normal, replica_position
from tfgan_text.models.text_to_image.attngan_networks import AttnGANGenerator, StageDiscriminator

__all__ = ["AttnGAN", "AttnGANGenerator", "StageDiscriminator"]


@keras.saving.register_keras_serializable(package="tfgan_text")
class AttnGAN(keras.Model):
    """AttnGAN: attentional multi-stage generation with DAMSM guidance (Xu et al. 2018).

    Each training step, G draws the images of every stage once. Each stage's discriminator
    is updated on (real, right caption), (real, wrong caption) and (fake, right caption) with
    `losses.attngan_discriminator_loss`; then G is updated on the sum over stages of
    `losses.attngan_generator_loss` through the updated discriminators, plus `damsm_weight`
    times the DAMSM loss (`losses.damsm_loss`, word and sentence terms) of the last stage's
    images, plus `kl_weight` times conditioning augmentation's KL term.

    Args:
        generator: `AttnGANGenerator`.
        discriminators: list of `StageDiscriminator`, one per stage, for its image size.
        text_encoder: the DAMSM text encoder (`WordRNNEncoder`: `{"words", "sentence", "mask"}`),
            frozen and run in inference mode.
        image_encoder: the DAMSM image encoder (`{"regions", "global"}`), frozen: it judges the
            last stage's images against their captions.
        damsm_image_size: int, the image side the image encoder was trained on; the last stage's
            images are resized to it when they differ.
        damsm_weight: float >= 0, lambda (AttnGAN: 5 for birds, 50 for COCO).
        kl_weight: float >= 0, weight of the KL term (AttnGAN: 1).
        gamma1, gamma2, gamma3: floats, DAMSM's (4, 5, 10).
        seed: int or None, seed of the noise.
        **kwargs: passed to `keras.Model`.

    Training batches are dicts with `image` float32 `[B, S, S, 3]` in [-1, 1] at the last
    stage's size (smaller stages see it average-pooled), `token_ids` int `[B, T]`,
    `wrong_token_ids` int `[B, T]` (captions of other images) and optionally `content_key`
    `[B]` (pairs of equal content are not negatives of each other in the DAMSM loss).

    Calling the model maps `(token_ids, noise)` to the last stage's images `[B, S, S, 3]`.

    Example:
        >>> gan = AttnGAN(AttnGANGenerator(base_size=32, stages=2, ...), [StageDiscriminator(32, ...),
        ...               StageDiscriminator(64, ...)], text_encoder, image_encoder, damsm_image_size=64)
        >>> gan.compile()
        >>> gan.fit(dataset, epochs=10)
    """

    task = "text_to_image"

    def __init__(self, generator, discriminators, text_encoder, image_encoder, damsm_image_size=None,
                 damsm_weight=5.0, kl_weight=1.0, gamma1=4.0, gamma2=5.0, gamma3=10.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        discriminators = list(discriminators)
        sizes = [d.image_size for d in discriminators]
        if sizes != generator.sizes:
            raise UserError(f"AttnGAN needs one discriminator per stage for sizes {generator.sizes}, got {sizes}")
        for name, value in (("damsm_weight", damsm_weight), ("kl_weight", kl_weight)):
            if not value >= 0.0:
                raise UserError(f"{name} must be >= 0, got {value!r}")
        self.generator = generator
        self.discriminators = discriminators
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.damsm_image_size = int(damsm_image_size or generator.image_size)
        self.damsm_weight = float(damsm_weight)
        self.kl_weight = float(kl_weight)
        self.gammas = (float(gamma1), float(gamma2), float(gamma3))
        self.seed = seed
        for network in (text_encoder, image_encoder):
            set_trainable(network, False)
        if not text_encoder.built:
            text_encoder.build((None, None))
        if not image_encoder.built:
            image_encoder.build((None, self.damsm_image_size, self.damsm_image_size, 3))
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "g_damsm", "g_kl", "d_real", "d_wrong", "d_fake")}
        self.built = True

    @property
    def metrics(self):
        """Epoch means of D's and G's losses (summed over stages), G's DAMSM and KL terms
        (unweighted), and the last stage's conditional sigmoid(logit) on (real, right),
        (real, wrong) and (fake, right)."""
        return list(self.trackers.values())

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Configures training; call it in `strategy.scope()` under a strategy.

        Args:
            d_optimizer: Keras optimizer of all the discriminators (Adam keeps per-weight
                state, so one optimizer over all of them is one per discriminator); default
                Adam(2e-4, beta_1=0.5) as AttnGAN.
            g_optimizer: Keras optimizer of the generator; the same default.
            **kwargs: passed to `keras.Model.compile` (`run_eagerly`, `jit_compile`, ...).

        Under `mixed_float16` both optimizers are wrapped in a `LossScaleOptimizer` (`loss_scaled`).
        """
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = loss_scaled(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5), self)
        self.g_optimizer = loss_scaled(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5), self)
        self.d_optimizer.build(self._discriminator_variables())
        self.g_optimizer.build(self.generator.trainable_variables)

    def _discriminator_variables(self):
        return [v for discriminator in self.discriminators for v in discriminator.trainable_variables]

    def text_features(self, token_ids):
        """The frozen text encoder's features of token ids `[B, T]`, as G reads them:
        `{"embedding": [B, E], "words": [B, T, W], "word_mask": float [B, T]}`."""
        return self._generator_text(self.text_encoder(ops.convert_to_tensor(token_ids), training=False))

    @staticmethod
    def _generator_text(outputs):
        """G's text inputs from the text encoder's `{"words", "sentence", "mask"}`."""
        return {"embedding": outputs["sentence"], "words": outputs["words"],
                "word_mask": ops.cast(outputs["mask"], outputs["words"].dtype)}

    def encode_text(self, token_ids, training=False):
        """Sentence features `[B, E]` of token ids `[B, T]`."""
        return self.text_features(token_ids)["embedding"]

    def stage_outputs(self, token_ids, noise):
        """G in inference mode: `{"images": [per stage], "attention": [per attentional stage
        [B, h, w, T]], "mu", "logvar"}` (see `AttnGANGenerator`)."""
        return self.generator({"noise": noise, **self.text_features(token_ids)}, training=False)

    def call(self, inputs, training=False):
        """The last stage's images `[B, S, S, 3]` in [-1, 1] of a pair `(token_ids, noise)`."""
        token_ids, noise = inputs
        return self.generator({"noise": noise, **self.text_features(token_ids)}, training=training)["images"][-1]

    def generate(self, token_ids, noise=None, seed=None):
        """The last stage's images for token ids `[B, T]`, in inference mode; `noise` `[B, Z]`
        or None to draw it with `seed`."""
        if noise is None:
            noise = keras.random.normal((ops.shape(token_ids)[0], self.generator.noise_dim), seed=seed)
        return self((token_ids, noise), training=False)

    def train_step(self, data):
        """One discriminator step on every stage, then one generator step, on one draw of G.

        Distribution: losses are per-example sums over the global batch size, batch norm is
        synchronized across replicas, noise is drawn for the global batch and sliced, and the
        DAMSM loss takes its negatives from the gathered global batch, so under
        `MirroredStrategy` the updates equal one-device training on the same global batch.
        """
        batch = data[0] if isinstance(data, (tuple, list)) else data
        images = ops.convert_to_tensor(batch["image"])
        local_size = ops.shape(images)[0]
        _, global_size = replica_position(local_size)
        encoded = self.text_encoder(ops.convert_to_tensor(batch["token_ids"]), training=False)
        text = self._generator_text(encoded)
        wrong = self.text_features(batch["wrong_token_ids"])["embedding"]
        reals = [self._downscale(images, size) for size in self.generator.sizes]
        noise = replica_normal(self.seed_generator, local_size, self.generator.noise_dim)
        with tf.GradientTape() as tape:
            generated = self.generator({"noise": noise, **text}, training=True)
            with tape.stop_recording():
                self._discriminator_step(reals, [ops.stop_gradient(x) for x in generated["images"]],
                                         text["embedding"], wrong, global_size)
            adversarial = sum(losses.attngan_generator_loss(**self._fake_logits(discriminator, fake, text["embedding"]))
                              for discriminator, fake in zip(self.discriminators, generated["images"]))
            damsm = self._damsm_loss(generated["images"][-1], encoded, batch.get("content_key"), local_size)
            kl = losses.conditioning_kl(generated["mu"], generated["logvar"])
            per_example = adversarial + self.damsm_weight * damsm + self.kl_weight * kl
            loss = self.g_optimizer.scale_loss(tf.nn.compute_average_loss(per_example, global_batch_size=global_size))
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(loss, variables), variables)
        for name, value in (("g_loss", per_example), ("g_damsm", damsm), ("g_kl", kl)):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _discriminator_step(self, reals, fakes, right, wrong, global_size):
        """Updates every stage's D on its real and (constant) fake images."""
        with tf.GradientTape() as tape:
            per_example = 0.0
            for discriminator, real, fake in zip(self.discriminators, reals, fakes):
                real_code = discriminator.encode(real, training=True)
                real_logits = discriminator.logits(real_code, right, training=True)
                wrong_logits = discriminator.logits(real_code, wrong, training=True)
                fake_logits = self._fake_logits(discriminator, fake, right)
                per_example = per_example + losses.attngan_discriminator_loss(
                    real_logits["unconditional"], real_logits["conditional"], fake_logits["unconditional_fake"],
                    fake_logits["conditional_fake"], wrong_logits["conditional"])
            loss = self.d_optimizer.scale_loss(tf.nn.compute_average_loss(per_example, global_batch_size=global_size))
        variables = self._discriminator_variables()
        self.d_optimizer.apply(tape.gradient(loss, variables), variables)
        self.trackers["d_loss"].update_state(per_example)
        for name, logits in (("d_real", real_logits), ("d_wrong", wrong_logits)):
            self.trackers[name].update_state(ops.sigmoid(logits["conditional"]))
        self.trackers["d_fake"].update_state(ops.sigmoid(fake_logits["conditional_fake"]))

    @staticmethod
    def _fake_logits(discriminator, fake, embedding):
        """A stage D's logits of generated images, named as `attngan_generator_loss` takes them."""
        logits = discriminator.logits(discriminator.encode(fake, training=True), embedding, training=True)
        return {"unconditional_fake": logits["unconditional"], "conditional_fake": logits["conditional"]}

    @staticmethod
    def _downscale(images, size):
        """`images` average-pooled to `size` (the last stage's real images for an earlier stage)."""
        factor = images.shape[1] // size
        return images if factor == 1 else ops.average_pool(images, factor, factor, padding="valid")

    def _damsm_loss(self, images, text_features, labels, local_size):
        """The DAMSM loss of the last stage's images and their captions' encoder outputs, per
        example, with the global batch's captions as negatives (gathered across replicas)."""
        if not self.damsm_weight:
            return ops.zeros((local_size,))
        if images.shape[1] != self.damsm_image_size:
            images = ops.image.resize(images, (self.damsm_image_size, self.damsm_image_size), antialias=True)
        image_features = self.image_encoder(images, training=False)
        text_features = {**text_features, "mask": ops.cast(text_features["mask"], "float32")}  # all_gather takes no bools
        gathered_image = {name: gather_replicas(image_features[name]) for name in ("regions", "global")}
        gathered_text = {name: gather_replicas(text_features[name]) for name in ("words", "sentence", "mask")}
        labels = None if labels is None else gather_replicas(labels)
        per_example = losses.damsm_loss(gathered_image, gathered_text, *self.gammas, labels=labels)
        offset, _ = replica_position(local_size)
        return per_example[offset : offset + local_size]

    def get_config(self):
        config = super().get_config()
        config.update({
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminators": [keras.saving.serialize_keras_object(d) for d in self.discriminators],
            "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
            "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
            "damsm_image_size": self.damsm_image_size,
            "damsm_weight": self.damsm_weight,
            "kl_weight": self.kl_weight,
            "gamma1": self.gammas[0], "gamma2": self.gammas[1], "gamma3": self.gammas[2],
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        for key in ("generator", "text_encoder", "image_encoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["discriminators"] = [keras.saving.deserialize_keras_object(d) for d in config["discriminators"]]
        return cls(**config)
