"""Auxiliary terms of the text-to-image generator's loss, one small class each.

`TextConditionalDCGAN(..., generator_terms=[SentenceMatching(5.0), Reconstruction(100.0)])`
adds `term.weight * term.loss(step)` to G's per-example adversarial loss, in list order, and
reports each term unweighted as `g_<name>`. A term reads what it needs from the
`GeneratorStep` it is given (generated and real images, the captions' features, stage 1's
frozen image encoder, counterfactual captions); a term that also enters D's loss (the patch
head) adds `discriminator_loss`. A new term is a new class here: the model's step, trackers and
config do not change.

    >>> terms = [SentenceMatching(5.0, hard_negatives=True), WordMatching(5.0)]
    >>> gan = TextConditionalDCGAN(generator, discriminator, text_encoder, image_encoder=encoder,
    ...                            generator_terms=terms, hard_negative_groups=groups)
"""

import keras
from keras import ops

from tfgan_text import losses
from tfgan_text.errors import UserError


class GeneratorStep:
    """What the terms of one generator step read; the encoders run on first use, once.

    Args:
        model: the `TextConditionalDCGAN` being trained.
        batch: the training batch dict (`token_ids`, optional `content_key`).
        images: float `[B, S, S, 3]`, the real images.
        fake: float `[B, S, S, 3]`, G's images for the right captions.
        fake_patches: D's patch logits of `fake`, or None without a patch head.
        text_features: the right captions' `text_features` (`embedding`, maybe `words`, `word_mask`).
        generator_loss: callable, logits -> G's per-example adversarial loss.
    """

    def __init__(self, model, batch, images, fake, fake_patches, text_features, generator_loss):
        self.model = model
        self.images = images
        self.fake = fake
        self.fake_patches = fake_patches
        self.text_features = text_features
        self.generator_loss = generator_loss
        self.token_ids = ops.convert_to_tensor(batch["token_ids"])
        self.content_key = batch.get("content_key")
        self._computed = {}

    def _once(self, key, compute):
        if key not in self._computed:
            self._computed[key] = compute()
        return self._computed[key]

    def encoded_fake(self):
        """Stage 1's frozen image encoder on G's images: `{"global", "regions"?}`."""
        return self._once("fake", lambda: self.model.teacher_features(self.fake))

    def encoded_real(self):
        """The same for the real images."""
        return self._once("real", lambda: self.model.teacher_features(self.images))

    def one_caption_per_image(self, what):
        if len(self.token_ids.shape) == 3:
            raise UserError(f"{what} needs one caption per image (token_ids [B, T])")

    def words(self):
        """The right captions' `{"words", "word_mask"}`: G's own inputs when it attends, else read here."""
        if "words" in self.text_features:
            return self.text_features
        return self._once("words", lambda: self.model.text_features(self.token_ids, with_words=True))

    def counterfactuals(self):
        """`(features [B, K, ...], changed [B, K])` of the captions' counterfactuals, drawn once a
        step (`TextConditionalDCGAN.counterfactual_features`), with word features when a term
        reads them; constants for G."""

        def draw():
            self.one_caption_per_image("hard negatives")
            with_words = any(term.reads_negative_words for term in self.model.generator_terms)
            features, changed = self.model.counterfactual_features(self.token_ids, with_words)
            return {name: ops.stop_gradient(value) for name, value in features.items()}, changed

        return self._once("counterfactuals", draw)


class DiscriminatorStep:
    """What a term that also enters D's loss reads in D's step.

    Args:
        real_patches, fake_patches: D's patch logits of the real and the generated images.
        discriminator_loss: callable `(real, wrong, fake, wrong_weight=, fake_weight=)` -> D's
            per-example loss (the model's GAN loss, with its label smoothing).
    """

    def __init__(self, real_patches, fake_patches, discriminator_loss):
        self.real_patches = real_patches
        self.fake_patches = fake_patches
        self.discriminator_loss = discriminator_loss


class GeneratorTerm:
    """Base of the terms: a `name` (the tracker is `g_<name>`), a `weight` >= 0, `get_config`.

    Subclasses define `loss(step)` -> per-example `[B]` and may define `check(model)` (what the
    model must hold), `discriminator_loss(step)`, `uses_image_encoder` (the term reads stage 1's
    frozen image encoder, which the model must then hold) and `reads_negative_words`.
    """

    name = None
    uses_image_encoder = False
    reads_negative_words = False

    def __init__(self, weight=1.0):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise UserError(f"the {self.name} term's weight must be a number >= 0, got {weight!r}")
        self.weight = float(weight)

    def check(self, model):
        """Raises `UserError` when `model` lacks what this term reads."""
        if self.uses_image_encoder and model.image_encoder is None:
            raise UserError(f"the {self.name} term needs the image_encoder of the text encoder's joint embedding")

    def loss(self, step):
        raise NotImplementedError

    def discriminator_loss(self, step):
        """D's per-example loss of this term, or None (most terms are G's alone)."""
        return None

    def get_config(self):
        return {"weight": self.weight}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _needs_hard_negative_groups(self, model):
        if not model.hard_negative_groups:
            raise UserError(f"the {self.name} term's hard negatives need the model's hard_negative_groups")


@keras.saving.register_keras_serializable(package="tfgan_text")
class SentenceMatching(GeneratorTerm):
    """DAMSM's sentence loss in G's loss (AttnGAN's lambda * L_DAMSM, Xu et al. 2018; 5 on birds).

    Under stage 1's frozen image encoder (`image_encoder`), generated image i must match caption
    i better than the batch's other captions (`losses.symmetric_matching_loss`, scale `gamma`,
    AttnGAN's gamma3): a direct gradient towards every attribute the caption names. With
    `hard_negatives`, the model's counterfactual captions (`hard_negative_groups`: one word
    swapped, "star" for "circle") join image i's softmax (`losses.hard_negative_matching_loss`):
    the batch's other captions differ in everything at once, so G can beat them on colour and
    place alone; a caption that differs only in shape is beaten only by the shape.

    Args:
        weight: float >= 0.
        gamma: float, the softmax scale (10).
        hard_negatives: bool.
    """

    name = "sentence_matching"
    uses_image_encoder = True

    def __init__(self, weight=1.0, gamma=10.0, hard_negatives=False):
        super().__init__(weight)
        self.gamma = float(gamma)
        self.hard_negatives = bool(hard_negatives)

    def check(self, model):
        super().check(model)
        if self.hard_negatives:
            self._needs_hard_negative_groups(model)

    def loss(self, step):
        images = step.encoded_fake()["global"]
        captions = step.text_features["embedding"]
        if not self.hard_negatives:
            return losses.symmetric_matching_loss(images, captions, self.gamma, step.content_key)
        features, changed = step.counterfactuals()
        return losses.hard_negative_matching_loss(images, captions, features["embedding"], self.gamma,
                                                  step.content_key, changed)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "hard_negatives": self.hard_negatives}


@keras.saving.register_keras_serializable(package="tfgan_text")
class WordMatching(GeneratorTerm):
    """DAMSM's word loss in G's loss (AttnGAN eqs. 7-13, `losses.damsm_word_loss`).

    Every word of caption i attends to the regions of generated image i under stage 1's frozen
    image encoder and has to find itself there, so every object a caption names has to be
    drawn (the sentence loss asks it only on average). With `hard_negatives`, the model's
    counterfactual captions are negatives here too: the swapped word (a wrong shape) must not
    find itself in image i.

    Args:
        weight: float >= 0 (AttnGAN weighs the word and sentence losses alike).
        gamma: float, the softmax scale over captions (gamma3, 10).
        hard_negatives: bool.
    """

    name = "word_matching"
    uses_image_encoder = True

    def __init__(self, weight=1.0, gamma=10.0, hard_negatives=False):
        super().__init__(weight)
        self.gamma = float(gamma)
        self.hard_negatives = bool(hard_negatives)

    @property
    def reads_negative_words(self):
        return self.hard_negatives

    def check(self, model):
        super().check(model)
        if not getattr(model.image_encoder, "regions", False):
            raise UserError("the word_matching term needs an image_encoder with regions")
        if self.hard_negatives:
            self._needs_hard_negative_groups(model)

    def loss(self, step):
        step.one_caption_per_image("the word_matching term")
        words = step.words()
        negatives = {}
        if self.hard_negatives:
            features, changed = step.counterfactuals()
            negatives = {"negative_words": features["words"], "negative_word_mask": features["word_mask"],
                         "negative_mask": changed}
        return losses.damsm_word_loss(step.encoded_fake()["regions"], words["words"], words["word_mask"],
                                      gamma3=self.gamma, labels=step.content_key, **negatives)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "hard_negatives": self.hard_negatives}


@keras.saving.register_keras_serializable(package="tfgan_text")
class ImageMatching(GeneratorTerm):
    """XMC-GAN's image-image contrastive loss (Zhang et al. 2021, "Cross-Modal Contrastive
    Learning for Text-to-Image Generation").

    Under stage 1's frozen image encoder, generated image i must be nearer real image i than the
    batch's other real images (`losses.symmetric_matching_loss` of the two global features).
    The real image shows every feature of what the caption names, so G cannot satisfy the
    encoder with a pattern that only tips the caption comparison.

    Args:
        weight: float >= 0.
        gamma: float, the softmax scale (10).
    """

    name = "image_matching"
    uses_image_encoder = True

    def __init__(self, weight=1.0, gamma=10.0):
        super().__init__(weight)
        self.gamma = float(gamma)

    def loss(self, step):
        return losses.symmetric_matching_loss(step.encoded_fake()["global"], step.encoded_real()["global"],
                                              self.gamma, step.content_key)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="tfgan_text")
class Reconstruction(GeneratorTerm):
    """pix2pix's L1 term (Isola et al. 2017, lambda 100): G(z, h_i) is pulled towards real
    image i (`losses.paired_l1_loss`). A dense signal for everything the caption fixes, at the
    cost of diversity over the noise."""

    name = "reconstruction"

    def loss(self, step):
        return losses.paired_l1_loss(step.fake, step.images)


@keras.saving.register_keras_serializable(package="tfgan_text")
class PatchAdversarial(GeneratorTerm):
    """The unconditional GAN loss of D's patch head (PatchGAN, Isola et al. 2017), in both
    players' losses: every cell of the head's map judges real against fake, with the model's
    GAN loss and no wrong-caption term. Needs a discriminator with a patch head
    (`EncoderFeatureDiscriminator(patch_head=True)`)."""

    name = "patch"

    def check(self, model):
        if not getattr(model.discriminator, "patch_head", False):
            raise UserError("the patch term needs a discriminator with a patch head "
                            "(EncoderFeatureDiscriminator(patch_head=True))")

    def loss(self, step):
        return step.generator_loss(step.fake_patches)

    def discriminator_loss(self, step):
        return step.discriminator_loss(step.real_patches, step.real_patches, step.fake_patches,
                                       wrong_weight=0.0, fake_weight=1.0)
