"""Text-conditional DCGAN trained with GAN-CLS and GAN-INT (Reed et al. 2016), as a Keras model.

`TextConditionalDCGAN` holds a text encoder, a generator and a discriminator and trains them
with `fit` through its own `train_step`, on one device or under any `tf.distribute` strategy
with the same result as one device on the same global batch (see `train_step`).
"""

import copy
import functools

import keras
import tensorflow as tf
from keras import ops

from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.text_to_image.dcgan_networks import DCGANDiscriminator, DCGANGenerator
from tfgan_text.models.text_to_image.differentiable_augmentation import cut_out, random_centres, random_shifts, translate
from tfgan_text.models.text_to_image.generator_terms import DiscriminatorStep, GeneratorStep
from tfgan_text.models.freezing import set_trainable
from tfgan_text.models.joint_embedding import counterfactual_features
from tfgan_text.models.mixed_precision import loss_scaled
from tfgan_text.models.replicas import gather_replicas, replica_normal, replica_position

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "TextConditionalDCGAN"]

GAN_LOSSES = {
    "gan_cls": (losses.gan_cls_discriminator_loss, losses.non_saturating_generator_loss),
    "hinge": (losses.hinge_discriminator_loss, losses.hinge_generator_loss),
}


@keras.saving.register_keras_serializable(package="tfgan_text")
class TextConditionalDCGAN(keras.Model):
    """GAN-INT-CLS text-to-image DCGAN of Reed et al. 2016, trained by `fit`.

    Args:
        generator: `DCGANGenerator` (or any model with the same inputs and a `noise_dim`).
            A generator with word attention (`attention_sizes`) also reads the text encoder's
            word features; it takes one caption per image, and no GAN-INT.
        discriminator: `DCGANDiscriminator` (or any model with the same inputs), giving logits;
            or a discriminator with a patch head (`EncoderFeatureDiscriminator(patch_head=True)`)
            giving `{"logits", "patch_logits"}`, whose cells the `PatchAdversarial` term judges.
        text_encoder: Keras model mapping int token ids `[B, T]` to a sentence embedding
            `[B, E]`. Its output may be the tensor, a dict (its `"sentence"` entry is used) or a
            tuple/list (its last element is used). An unbuilt encoder is built here with
            `build((None, None))`.
        train_text_encoder: bool. False (default, as Reed: the encoder is pretrained): the
            encoder is frozen (`trainable = False`) and run in inference mode. True: it is
            trained end-to-end in the discriminator step, where GAN-CLS learns text/image
            matching; the generator step treats embeddings as constants.
        gan_int: bool, add GAN-INT: the generator is also trained on embeddings interpolated
            between captions of the batch.
        interpolation_beta: float in [0, 1], GAN-INT embedding `beta * h_i + (1 - beta) * h_j`,
            `j = i + 1` modulo the global batch (0.5 in the paper).
        seed: int or None, seed of the model's `keras.random.SeedGenerator`s (noise, shifts,
            counterfactual captions).
        image_encoder: optional frozen image encoder of the text encoder's joint embedding
            (an `ImageEncoder` trained with it in stage 1, giving `{"global": [B, E]}` and with
            `regions` also `"regions"`): the teacher that the matching terms read.
        generator_terms: list of `generator_terms.GeneratorTerm` (DAMSM sentence and word
            matching, image matching, L1 reconstruction, the patch head's loss): each adds
            `weight * loss` to G's per-example loss and is reported unweighted as `g_<name>`.
            Empty (default): Reed's G loss alone.
        hard_negative_groups: optional list of lists of token ids (word encoders): each caption
            also gives one counterfactual per list (one word of the list swapped for another,
            e.g. "star" for "circle", `counterfactual_features`), the hard negatives of the terms
            built with `hard_negatives=True`.
        augment_shift: float in [0, 0.5), DiffAugment's translation (Zhao et al. 2020): every
            image D sees, real or generated, and every image the matching terms' encoder sees, is
            first moved by its own random whole number of pixels, up to this fraction of the
            image side, along each axis (reflected border); G's gradients flow back through the
            shift. 0 (default): off.
        augment_cutout: float in [0, 1), DiffAugment's cutout: every image D sees, real or
            generated, after its shift, has a square of this fraction of the image side (their
            0.5) at a random place set to grey; only D's view (a frozen matching encoder asked
            whether image i shows caption i must see every object the caption names). 0
            (default): off.
        **kwargs: passed to `keras.Model`.

    Training batches are dicts (other keys are ignored):
        `image`: float32 `[B, S, S, 3]` in [-1, 1];
        `token_ids`: int `[B, T]`, or `[B, K, T]` for K captions of each image, whose
            embeddings are averaged into one condition (Reed's averaged condition; every one of
            the K captions must be a real caption);
        `wrong_token_ids`: int `[B, T]` or `[B, K, T]`, captions of other images;
        `content_key` (optional, used by the matching terms): `[B]`, equal for images of the
            same content, which are then not negatives of each other.

    Calling the model maps `(token_ids, noise)` (a pair) to images `[B, S, S, 3]` in [-1, 1].

    Example:
        >>> gan = TextConditionalDCGAN(generator, discriminator, text_encoder, seed=0,
        ...                            image_encoder=encoder, generator_terms=[SentenceMatching(5.0)])
        >>> gan.compile(loss="gan_cls", label_smoothing=0.1)
        >>> gan.fit(dataset, epochs=600)
        >>> images = gan.generate(token_ids, seed=0)

    Reference: Reed et al. 2016, "Generative Adversarial Text to Image Synthesis" (ICML).
    """

    # What the model maps, for code that handles models of either direction (export, inference).
    task = "text_to_image"

    def __init__(
        self,
        generator,
        discriminator,
        text_encoder,
        train_text_encoder=False,
        gan_int=True,
        interpolation_beta=0.5,
        seed=None,
        image_encoder=None,
        generator_terms=(),
        hard_negative_groups=None,
        augment_shift=0.0,
        augment_cutout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 <= interpolation_beta <= 1.0:
            raise UserError(f"interpolation_beta must be in [0, 1], got {interpolation_beta}")
        if not 0.0 <= augment_shift < 0.5:
            raise UserError(f"augment_shift must be in [0, 0.5), got {augment_shift}")
        if not 0.0 <= augment_cutout < 1.0:
            raise UserError(f"augment_cutout must be in [0, 1), got {augment_cutout}")
        for group in hard_negative_groups or []:
            if len(set(group)) != len(group) or len(group) < 2:
                raise UserError(f"a hard negative group needs two or more distinct token ids, got {group}")
        self.generator = generator
        self.reads_words = bool(getattr(generator, "attention_sizes", ()))
        self.discriminator = discriminator
        self.text_encoder = text_encoder
        self.train_text_encoder = train_text_encoder
        self.gan_int = gan_int
        self.interpolation_beta = interpolation_beta
        self.seed = seed
        self.image_encoder = image_encoder
        # Tuples: Keras tracks list attributes, which then cannot be copied into a config.
        self.generator_terms = tuple(generator_terms)
        self.hard_negative_groups = tuple(tuple(int(i) for i in group) for group in hard_negative_groups or [])
        names = [term.name for term in self.generator_terms]
        if len(set(names)) != len(names):
            raise UserError(f"each generator term may be given once, got {names}")
        for term in self.generator_terms:
            term.check(self)
        self.augment_shift = float(augment_shift)
        self.augment_cutout = float(augment_cutout)
        self.augment_seed_generator = keras.random.SeedGenerator(seed) if augment_shift or augment_cutout else None
        self.swap_seed_generator = keras.random.SeedGenerator(seed) if self.hard_negative_groups else None
        if self.reads_words and gan_int:
            raise UserError("GAN-INT does not combine with word attention in G: interpolated captions have no words")
        if not text_encoder.built:
            text_encoder.build((None, None))  # token ids [B, T]
        set_trainable(self.text_encoder, train_text_encoder)
        if image_encoder is not None:
            set_trainable(image_encoder, False)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_wrong_tracker = keras.metrics.Mean(name="d_wrong")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.term_trackers = [keras.metrics.Mean(name=f"g_{term.name}") for term in self.generator_terms]
        # All weights live in the three (built) networks: nothing is left to build, and `fit`
        # under a strategy must not try to build the model by calling it on a training batch.
        self.built = True

    @property
    def metrics(self):
        """Epoch means of the losses, of D's sigmoid(logit) on (real, right), (real, wrong),
        (fake, right), and of each generator term, unweighted (`g_<name>`).

        NaN losses stay NaN in the logs (`d_loss`, `g_loss`), for a callback to stop on.
        """
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_wrong_tracker,
                self.d_fake_tracker, *self.term_trackers]

    def compile(self, d_optimizer=None, g_optimizer=None, loss="gan_cls", label_smoothing=0.0, **kwargs):
        """Configures training; call it in `strategy.scope()` when training under a strategy.

        Args:
            d_optimizer: Keras optimizer of the discriminator (and of a trained text encoder);
                default Adam(2e-4, beta_1=0.5) as Reed.
            g_optimizer: Keras optimizer of the generator; the same default.
            loss: "gan_cls" (binary cross-entropy, non-saturating G) or "hinge".
            label_smoothing: float in [0, 1), one-sided smoothing of the real target
                (`loss="gan_cls"` only).
            **kwargs: passed to `keras.Model.compile` (`run_eagerly`, `jit_compile`, ...).

        Under `mixed_float16` both optimizers are wrapped in a `LossScaleOptimizer` (`loss_scaled`).
        """
        if loss not in GAN_LOSSES:
            raise UserError(f"loss must be one of {sorted(GAN_LOSSES)}, got {loss!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise UserError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if label_smoothing and loss != "gan_cls":
            raise UserError(f"label_smoothing applies to loss='gan_cls' only, not {loss!r}")
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = loss_scaled(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5), self)
        self.g_optimizer = loss_scaled(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5), self)
        self.d_optimizer.build(self._discriminator_variables())
        self.g_optimizer.build(self.generator.trainable_variables)
        self.gan_loss = loss
        self.label_smoothing = label_smoothing

    def _discriminator_variables(self):
        variables = list(self.discriminator.trainable_variables)
        if self.train_text_encoder:
            variables += self.text_encoder.trainable_variables
        return variables

    def encode_text(self, token_ids, training=False):
        """Sentence embedding `[B, E]` of token ids `[B, T]`, or the mean over K of `[B, K, T]`."""
        return self.text_features(token_ids, training)["embedding"]

    def text_features(self, token_ids, training=False, with_words=None):
        """What G reads of the captions `[B, T]`: `{"embedding": [B, E]}`, and when G attends to
        words (or `with_words`) also `"words": [B, T', W]` and `"word_mask": float [B, T']`. For
        `[B, K, T]` (K captions per image) the embedding is the mean over K; G cannot attend to
        those."""
        token_ids = ops.convert_to_tensor(token_ids)
        if len(token_ids.shape) == 3:
            if self.reads_words:
                raise UserError("word attention in G needs one caption per image (token_ids [B, T]), not K of them")
            shape = ops.shape(token_ids)
            embedding = self._encoder_outputs(ops.reshape(token_ids, (-1, shape[2])), training)["embedding"]
            return {"embedding": ops.mean(ops.reshape(embedding, (shape[0], shape[1], embedding.shape[-1])), axis=1)}
        return self._encoder_outputs(token_ids, training, with_words)

    def teacher_features(self, images):
        """Stage 1's frozen image encoder (inference mode) on `images`, shifted as D sees them
        (`augment_shift`): what the matching terms read."""
        return self.image_encoder(self._shift(images), training=False)

    def counterfactual_features(self, token_ids, with_words=False):
        """Text features of the captions' counterfactuals, one per `hard_negative_groups` entry,
        drawn with the model's seed generator: `(features [B, K, ...], changed bool [B, K])`,
        see `joint_embedding.counterfactual_features`."""
        return counterfactual_features(lambda ids: self._encoder_outputs(ids, False, with_words=with_words),
                                       token_ids, self.hard_negative_groups, self.swap_seed_generator)

    def _encoder_outputs(self, token_ids, training, with_words=None):
        """`{"embedding"}`, with `"words"` and `"word_mask"` when G attends (or `with_words`)."""
        outputs = self.text_encoder(token_ids, training=training)
        if self.reads_words if with_words is None else with_words:
            if not (isinstance(outputs, dict) and "words" in outputs and "mask" in outputs):
                raise UserError("word attention in G and the matching word loss need a text encoder whose outputs "
                                "hold 'words' and 'mask'")
            return {"embedding": outputs["sentence"], "words": outputs["words"],
                    "word_mask": ops.cast(outputs["mask"], outputs["words"].dtype)}
        if isinstance(outputs, dict):
            return {"embedding": outputs["sentence"]}
        return {"embedding": outputs[-1] if isinstance(outputs, (tuple, list)) else outputs}

    def call(self, inputs, training=False):
        """Images `[B, S, S, 3]` in [-1, 1] from a pair `(token_ids, noise)`."""
        token_ids, noise = inputs
        features = self.text_features(token_ids, training=training and self.train_text_encoder)
        return self.generator({"noise": noise, **features}, training=training)

    def generate(self, token_ids, noise=None, seed=None):
        """Images for token ids `[B, T]` (or `[B, K, T]`), in inference mode.

        Args:
            token_ids: int `[B, T]` or `[B, K, T]`.
            noise: float `[B, Z]` or None to draw it from N(0, 1).
            seed: int seed of the drawn noise (same seed, same images), or None.
        """
        if noise is None:
            batch = ops.shape(token_ids)[0]
            noise = keras.random.normal((batch, self.generator.noise_dim), seed=seed)
        return self((token_ids, noise), training=False)

    def _noise(self, local_size):
        """This replica's rows of the noise drawn for the global batch (`replica_normal`)."""
        return replica_normal(self.seed_generator, local_size, self.generator.noise_dim)

    def _average(self, per_example, global_size):
        """Mean over the global batch: sum of this replica's losses / global batch size.

        The optimizers sum gradients over replicas, which gives the one-device gradient.
        """
        return tf.nn.compute_average_loss(per_example, global_batch_size=global_size)

    def train_step(self, data):
        """One discriminator step (GAN-CLS) then one generator step (non-saturating + GAN-INT).

        Distribution: losses are per-example sums divided by the global batch size, batch norm
        is synchronized across replicas (the networks' default), noise is drawn for the global
        batch and sliced, and GAN-INT partners are taken from the gathered global batch, so under
        `MirroredStrategy` the updates equal one-device training on the same global batch.
        """
        batch = data[0] if isinstance(data, (tuple, list)) else data
        images = ops.convert_to_tensor(batch["image"])
        local_size = ops.shape(images)[0]
        offset, global_size = replica_position(local_size)
        right_features = self._discriminator_step(batch, images, offset, local_size, global_size)
        self._generator_step(right_features, batch, images, offset, local_size, global_size)
        return {metric.name: metric.result() for metric in self.metrics}

    def _discriminator_step(self, batch, images, offset, local_size, global_size):
        """Updates D on (real, right), (real, wrong), (fake, right), plus the terms that enter
        D's loss (the patch head's); returns the right captions' `text_features`, as constants."""
        d_loss_fn = self._gan_loss_functions()[0]
        noise = self._noise(local_size)
        with tf.GradientTape() as tape:
            right_features = self.text_features(batch["token_ids"], training=self.train_text_encoder)
            right = right_features["embedding"]
            wrong = self.encode_text(batch["wrong_token_ids"], training=self.train_text_encoder)
            right_features = {name: ops.stop_gradient(value) for name, value in right_features.items()}
            fake = self.generator({"noise": noise, **right_features}, training=True)
            fake = ops.stop_gradient(fake)
            real_logits, real_patches = self._judge(images, right)
            wrong_logits, _ = self._judge(images, wrong)
            fake_logits, fake_patches = self._judge(fake, right)
            per_example = d_loss_fn(real_logits, wrong_logits, fake_logits)
            step = DiscriminatorStep(real_patches, fake_patches, d_loss_fn)
            for term in self.generator_terms:
                term_loss = term.discriminator_loss(step)
                if term_loss is not None:
                    per_example = per_example + term.weight * term_loss
            loss = self.d_optimizer.scale_loss(self._average(per_example, global_size))
        variables = self._discriminator_variables()
        self.d_optimizer.apply(tape.gradient(loss, variables), variables)
        self.d_loss_tracker.update_state(per_example)
        self.d_real_tracker.update_state(ops.sigmoid(real_logits))
        self.d_wrong_tracker.update_state(ops.sigmoid(wrong_logits))
        self.d_fake_tracker.update_state(ops.sigmoid(fake_logits))
        return right_features

    def _gan_loss_functions(self):
        """(D's per-example loss, G's per-example loss) of the compiled `loss`, with its label smoothing."""
        d_loss_fn, g_loss_fn = GAN_LOSSES[self.gan_loss]
        if self.gan_loss == "gan_cls":
            d_loss_fn = functools.partial(d_loss_fn, label_smoothing=self.label_smoothing)
        return d_loss_fn, g_loss_fn

    def _shift(self, images):
        """`images` each moved by a random shift (`augment_shift`); unchanged when it is 0."""
        max_shift = int(self.augment_shift * images.shape[1])
        if not max_shift:
            return images
        shifts = self._replica_rows(images, lambda count: random_shifts(count, max_shift, self.augment_seed_generator))
        return translate(images, shifts, max_shift)

    def _cut_out(self, images):
        """`images` each with a grey square at a random place (`augment_cutout`); unchanged when it is 0."""
        cutout_size = int(self.augment_cutout * images.shape[1])
        if not cutout_size:
            return images
        size = images.shape[1]
        centres = self._replica_rows(images, lambda count: random_centres(count, size, self.augment_seed_generator))
        return cut_out(images, centres, cutout_size)

    def _replica_rows(self, images, draw):
        """This replica's rows of `draw(global batch size)`: drawn for the global batch and
        sliced, as the noise (`_noise`), so each example gets what one-device training gives it."""
        local_size = ops.shape(images)[0]
        offset, global_size = replica_position(local_size)
        return draw(global_size)[offset : offset + local_size]

    def _judge(self, images, embeddings):
        """D in training mode on (images, captions), each image shifted (`augment_shift`) then
        cut out (`augment_cutout`) first: its logits `[B, 1]`, and its patch logits
        `[B, h, w, 1]` (None without a patch head)."""
        seen = self._cut_out(self._shift(images))
        judged = self.discriminator({"image": seen, "embedding": embeddings}, training=True)
        if isinstance(judged, dict):
            return judged["logits"], judged["patch_logits"]
        return judged, None

    def _generator_step(self, right_features, batch, images, offset, local_size, global_size):
        """Updates G on D(G(z, h), h), with GAN-INT on interpolated embeddings and with each of
        `generator_terms` (see `generator_terms.GeneratorStep` for what they read).

        D runs in training mode (batch statistics, as in its own step); its trainable weights
        are not updated here. The matching terms' negatives are the other captions (real
        images) of this replica's batch.
        """
        g_loss_fn = self._gan_loss_functions()[1]
        noise = self._noise(local_size)
        right = right_features["embedding"]
        if self.gan_int:
            partner = ops.roll(gather_replicas(right), -1, axis=0)[offset : offset + local_size]
            mixed = self.interpolation_beta * right + (1.0 - self.interpolation_beta) * partner
            mixed_noise = self._noise(local_size)
        with tf.GradientTape() as tape:
            fake = self.generator({"noise": noise, **right_features}, training=True)
            fake_logits, fake_patches = self._judge(fake, right)
            per_example = g_loss_fn(fake_logits)
            if self.gan_int:
                mixed_fake = self.generator({"noise": mixed_noise, "embedding": mixed}, training=True)
                mixed_logits, _ = self._judge(mixed_fake, mixed)
                per_example = per_example + g_loss_fn(mixed_logits)
            step = GeneratorStep(self, batch, images, fake, fake_patches, right_features, g_loss_fn)
            term_losses = [term.loss(step) for term in self.generator_terms]
            for term, term_loss in zip(self.generator_terms, term_losses):
                per_example = per_example + term.weight * term_loss
            loss = self.g_optimizer.scale_loss(self._average(per_example, global_size))
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(loss, variables), variables)
        self.g_loss_tracker.update_state(per_example)
        for tracker, term_loss in zip(self.term_trackers, term_losses):
            tracker.update_state(term_loss)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
                "train_text_encoder": self.train_text_encoder,
                "gan_int": self.gan_int,
                "interpolation_beta": self.interpolation_beta,
                "seed": self.seed,
                "image_encoder": None if self.image_encoder is None else keras.saving.serialize_keras_object(self.image_encoder),
                "generator_terms": [keras.saving.serialize_keras_object(term) for term in self.generator_terms],
                "hard_negative_groups": [list(group) for group in self.hard_negative_groups],
                "augment_shift": self.augment_shift,
                "augment_cutout": self.augment_cutout,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserializing consumes the nested configs
        for key in ("generator", "discriminator", "text_encoder", "image_encoder"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        config["generator_terms"] = [keras.saving.deserialize_keras_object(term)
                                     for term in config.get("generator_terms", [])]
        return cls(**config)
