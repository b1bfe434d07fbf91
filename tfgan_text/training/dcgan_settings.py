"""The settings of a text-to-image DCGAN run: every flag of `tfgan-text train dcgan` and `train text-encoder`."""

import dataclasses

from tfgan_text.errors import UserError
from tfgan_text.models.network_options import CONDITIONINGS, DOWNSAMPLINGS, UPSAMPLINGS, generator_hidden_sizes
from tfgan_text.training.run_settings import RunSettings, flag, setting

TEXT_ENCODERS = ("word_rnn", "char_cnn_rnn")
# "dcgan": Reed's D on pixels; "encoder_features": heads on stage 1's frozen image encoder
# (`EncoderFeatureDiscriminator`, as Projected GANs).
DISCRIMINATORS = ("dcgan", "encoder_features")
GAN_LOSSES = ("gan_cls", "hinge")
STAGE_ONE_IMAGE_ENCODER_FILTERS = (32, 64, 128, 256)

# Hard-negative counts: per caption, that many counterfactuals of each kind, in stage 1's
# matching loss and in G's.
TEXT_ENCODER_NEGATIVE_FIELDS = (
    "text_encoder_shape_negatives", "text_encoder_color_negatives", "text_encoder_position_negatives",
)
MATCHING_NEGATIVE_FIELDS = ("matching_shape_negatives", "matching_color_negatives", "matching_position_negatives")
# Options that make counterfactual captions by swapping a shape, colour or place word of the
# built-in shapes captions for another.
WORD_SWAP_FIELDS = (*TEXT_ENCODER_NEGATIVE_FIELDS, *MATCHING_NEGATIVE_FIELDS, "counterfactual_wrong_rate")
WEIGHT_FIELDS = ("matching_weight", "reconstruction_weight", "text_encoder_word_weight", "matching_word_weight",
                 "discriminator_patch_weight", "image_matching_weight")


@dataclasses.dataclass
class DCGANSettings(RunSettings):
    """Everything that defines a DCGAN run; saved as `run.json` in the run directory.

    Architecture fields must match when a run is resumed; training fields may change
    (e.g. more `epochs`). Defaults are sized for a 2-core CPU; `--preset reed2016` gives
    Reed et al.'s own settings.
    """

    # data
    data: str = setting("shapes", "'shapes' (built in) or a dataset path")
    format: str = setting("auto", "layout of --data: auto, cub, oxford102, coco, karpathy, flickr8k, idx, folder, ...")
    seed: int = setting(0, "seed of the built-in dataset, of the data order and of every random draw in training")
    random_crop: bool = setting(False, "upscale training images by 76/64 and crop back at random (Reed)")
    flip: bool = setting(False, "random horizontal flips (not on shapes: its captions name left and right)")
    # architecture
    image_size: int = setting(64, "side of the square images: 32, 64 or 128")
    noise_dim: int = setting(100, "size of G's noise vector")
    ngf: int = setting(32, "generator width (Reed: 128)")
    ndf: int = setting(32, "discriminator width (Reed: 64)")
    text_encoder: str = setting("word_rnn", "word_rnn (a bi-LSTM over words) or char_cnn_rnn (Reed)",
                                choices=TEXT_ENCODERS)
    text_embedding_dim: int = setting(128, "word embedding width of the word_rnn text encoder")
    text_hidden_dim: int = setting(128, "width of the text encoder's sentence (and word) features")
    max_length: int = setting(32, "tokens per caption, longer ones are cut")
    min_count: int = setting(1, "words seen fewer times in the training captions are unknown")
    discriminator: str = setting("dcgan", "D on pixels (Reed) or heads on stage 1's frozen image encoder (Projected GAN)",
                                 choices=DISCRIMINATORS)
    discriminator_levels: int = setting(3, "encoder_features: how many of the image encoder's 4 last maps D reads")
    discriminator_patch_weight: float = setting(
        0.0, "encoder_features: weight of an unconditional patch head's GAN loss in both players' losses (PatchGAN; 0: off)")
    discriminator_fine_tune: bool = setting(
        False, "encoder_features: D's copy of stage 1's image encoder trains with its heads (the matching teacher stays frozen)")
    spectral_norm: bool = setting(False, "dcgan D: spectral normalisation of its weights")
    projection_discriminator: bool = setting(False, "dcgan D: add the projection term (image features . text) to its logit")
    generator_upsampling: str = setting(
        "transposed", "G's blocks double maps by 4x4 transposed convolutions or nearest resize + 3x3", choices=UPSAMPLINGS)
    generator_conditioning: str = setting(
        "input", "noise and caption enter G's first layer only, or also set every block's batch norm", choices=CONDITIONINGS)
    generator_attention_sizes: list[int] = setting(
        [], "sizes of G's maps (e.g. 8 16) after which AttnGAN's word attention reads the caption's words; none: off")
    # stage 1: the text encoder, pretrained with an image encoder
    text_encoder_epochs: int = setting(3, "epochs of stage 1")
    text_encoder_gamma: float = setting(10.0, "softmax scale of the matching losses (AttnGAN's gamma3)")
    text_encoder_image_downsampling: str = setting(
        "strided", "stage 1's image encoder halves its maps by strided convolutions or 3x3 + max pooling",
        choices=DOWNSAMPLINGS)
    text_encoder_image_coordinates: bool = setting(
        False, "row and column channels into stage 1's image encoder (CoordConv): its features can say where things are")
    text_encoder_shape_negatives: int = setting(0, "shapes data: shape-swapped captions per caption, hard negatives of stage 1")
    text_encoder_color_negatives: int = setting(0, "shapes data: colour-swapped captions per caption, hard negatives of stage 1")
    text_encoder_position_negatives: int = setting(
        0, "shapes data: captions with a place word swapped for its opposite, hard negatives of stage 1")
    text_encoder_word_weight: float = setting(
        0.0, "weight of DAMSM's word loss beside stage 1's sentence loss (AttnGAN: 1; 0: off)")
    text_encoder_word_negatives: bool = setting(False, "stage 1's hard negatives also enter its word loss")
    # the GAN's losses
    loss: str = setting("gan_cls", "GAN-CLS with binary cross-entropy (Reed) or the hinge loss", choices=GAN_LOSSES)
    label_smoothing: float = setting(0.0, "gan_cls: one-sided smoothing, the real target is 1 - s")
    counterfactual_wrong_rate: float = setting(
        0.0, "shapes data: share of GAN-CLS wrong captions that are the image's own caption with one shape word swapped")
    gan_int: bool = setting(True, "GAN-INT: G also trains on captions interpolated between the batch's")
    interpolation_beta: float = setting(0.5, "GAN-INT: beta of beta * h_i + (1 - beta) * h_j")
    captions_per_image: int = setting(1, "G's condition is the mean embedding of K captions of the image (Reed: 4)")
    matching_weight: float = setting(
        0.0, "weight of DAMSM's sentence loss in G's loss, through stage 1's frozen image encoder (AttnGAN: 5; 0: off)")
    matching_shape_negatives: int = setting(0, "shapes data: shape-swapped captions per caption, hard negatives of that loss")
    matching_color_negatives: int = setting(0, "shapes data: colour-swapped captions per caption, hard negatives of that loss")
    matching_position_negatives: int = setting(
        0, "shapes data: captions with a place word swapped for its opposite, hard negatives of that loss")
    matching_word_weight: float = setting(
        0.0, "weight of DAMSM's word loss relative to the sentence loss in G's matching terms (AttnGAN: 1)")
    matching_word_negatives: bool = setting(False, "the matching hard negatives also enter G's word loss")
    image_matching_weight: float = setting(
        0.0, "weight of XMC-GAN's image-image contrastive loss: G(z, caption) near its real image (0: off)")
    reconstruction_weight: float = setting(
        0.0, "weight of pix2pix's L1 distance of G(z, caption) to the caption's real image (0: off)")
    augment_shift: float = setting(
        0.0, "DiffAugment: shift images D and the matching encoder see by up to this fraction of a side (0: off)")
    augment_cutout: float = setting(
        0.0, "DiffAugment: grey out a random square of this fraction of the side in images D sees (0: off)")
    # training
    epochs: int = setting(10, "epochs of the GAN (stage 2)")
    steps_per_epoch: int | None = setting(None, "batches per epoch; default: one pass over the training split")
    batch_size: int = setting(64, "global batch size of both stages")
    learning_rate: float = setting(2e-4, "Adam's rate for G and D")
    beta_1: float = setting(0.5, "Adam's beta1 for G and D")
    learning_rate_halving_epochs: int = setting(0, "halve both rates every this many epochs (Reed: 100; 0: never)")
    checkpoint_every: int = setting(200, "steps between checkpoints (also one at each epoch's end)")

    VERB = "dcgan"
    ARCHITECTURE = (
        "image_size", "noise_dim", "ngf", "ndf", "text_encoder", "text_embedding_dim",
        "text_hidden_dim", "max_length", "min_count", "discriminator", "discriminator_levels",
        "discriminator_patch_weight", "discriminator_fine_tune", "spectral_norm", "projection_discriminator",
        "generator_upsampling", "generator_conditioning", "generator_attention_sizes", "matching_weight",
        "matching_shape_negatives", "matching_color_negatives", "matching_position_negatives", "matching_word_weight",
        "matching_word_negatives", "image_matching_weight",
    )
    DATASET = ("data", "format", "seed")

    def check(self):
        self.check_positive(("image_size", "noise_dim", "ngf", "ndf", "text_embedding_dim", "text_hidden_dim",
                             "max_length", "epochs", "batch_size", "captions_per_image", "min_count",
                             "text_encoder_epochs"))
        if self.steps_per_epoch is not None:
            self.check_positive(("steps_per_epoch",))
        for name in (*TEXT_ENCODER_NEGATIVE_FIELDS, *MATCHING_NEGATIVE_FIELDS, "checkpoint_every",
                     "learning_rate_halving_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"{flag(name)} must be an integer >= 0, got {value!r}")
        self.check_range(("text_encoder_gamma", "learning_rate"), 0.0, low_open=True)
        self.check_range(WEIGHT_FIELDS, 0.0)
        self.check_range(("interpolation_beta", "counterfactual_wrong_rate"), 0.0, 1.0, high_open=False)
        self.check_range(("label_smoothing", "beta_1", "augment_cutout"), 0.0, 1.0)
        self.check_range(("augment_shift",), 0.0, 0.5)
        self.check_choices()
        if self.label_smoothing and self.loss != "gan_cls":
            raise UserError(f"label-smoothing applies to loss gan_cls, not {self.loss!r}")
        for name in (*MATCHING_NEGATIVE_FIELDS, "matching_word_weight"):
            if getattr(self, name) and not self.matching_weight:
                raise UserError(f"{flag(name)} needs matching-weight > 0")
            if getattr(self, name) and self.captions_per_image > 1:
                raise UserError(f"{flag(name)} needs captions-per-image 1")
        for stage in ("text_encoder", "matching"):
            negatives = [getattr(self, f"{stage}_{kind}_negatives") for kind in ("shape", "color", "position")]
            if getattr(self, f"{stage}_word_negatives") and not (getattr(self, f"{stage}_word_weight") and any(negatives)):
                raise UserError(f"{flag(stage + '_word_negatives')} needs {flag(stage + '_word_weight')} > 0 and "
                                f"{flag(stage)} hard negatives (shape, colour or place)")
        word_swaps = [name for name in WORD_SWAP_FIELDS if getattr(self, name)]
        if word_swaps and (self.data != "shapes" or self.text_encoder != "word_rnn"):
            raise UserError(f"{flag(word_swaps[0])} swaps shapes words in captions: it needs the built-in "
                            f"shapes data and the word_rnn text encoder, not {self.data!r} with {self.text_encoder!r}")
        if self.discriminator_levels not in range(1, len(STAGE_ONE_IMAGE_ENCODER_FILTERS) + 1):
            raise UserError(f"discriminator-levels must be in [1, {len(STAGE_ONE_IMAGE_ENCODER_FILTERS)}], "
                            f"got {self.discriminator_levels!r}")
        for name in ("discriminator_patch_weight", "discriminator_fine_tune"):
            if getattr(self, name) and self.discriminator != "encoder_features":
                raise UserError(f"{flag(name)} applies to the encoder_features discriminator, not {self.discriminator!r}")
        if self.discriminator != "dcgan":
            for name in ("spectral_norm", "projection_discriminator"):
                if getattr(self, name):
                    raise UserError(f"{flag(name)} applies to the dcgan discriminator, not {self.discriminator!r}")
        if self.image_size not in (32, 64, 128):
            raise UserError(f"image size must be 32, 64 or 128, got {self.image_size}")
        self._check_attention_sizes()
        return self

    def _check_attention_sizes(self):
        sizes = self.generator_attention_sizes
        if not sizes:
            return
        hidden_sizes = generator_hidden_sizes(self.image_size)
        if not isinstance(sizes, list) or any(size not in hidden_sizes or isinstance(size, bool) for size in sizes):
            raise UserError(f"generator-attention-sizes must be among G's hidden map sizes {hidden_sizes} at image "
                            f"size {self.image_size}, got {sizes!r}")
        if self.gan_int:
            raise UserError("generator-attention-sizes needs --no-gan-int: interpolated captions have no words to attend to")
        if self.captions_per_image > 1:
            raise UserError("generator-attention-sizes needs captions-per-image 1: G attends to the words of one caption")
