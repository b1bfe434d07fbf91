"""Training a text-conditional DCGAN end to end: the work behind `tfgan-text train dcgan`.

Stage 1 pretrains the text encoder jointly with an image encoder (symmetric matching loss,
as DS-SJE / the DAMSM sentence loss); stage 2 trains the GAN-INT-CLS DCGAN of Reed et al.
2016 with the encoder frozen, by `model.fit` under the chosen `tf.distribute` strategy, with
checkpoints that `resume=True` continues from.
"""

import dataclasses
import os

import keras
import tensorflow as tf

from tfgan_text import data
from tfgan_text.data import shapes
from tfgan_text.data.pipeline import steps_per_epoch, training_pipeline
from tfgan_text.errors import UserError
from tfgan_text.models import load_model
from tfgan_text.models.dcgan import DCGANDiscriminator, DCGANGenerator, TextConditionalDCGAN
from tfgan_text.models.dcgan_networks import CONDITIONINGS, UPSAMPLINGS, generator_hidden_sizes
from tfgan_text.models.encoder_discriminator import EncoderFeatureDiscriminator
from tfgan_text.models.image_encoder import DOWNSAMPLINGS, ImageEncoder
from tfgan_text.metrics.retrieval import caption_to_image_recall
from tfgan_text.models.joint_embedding import JointEmbedding
from tfgan_text.models.text_encoder import CharCNNRNNEncoder, WordRNNEncoder, char_ids
from tfgan_text.text.tokenizer import Tokenizer
from tfgan_text.text.vocabulary import Vocabulary
from tfgan_text.training.checkpoints import StopOnNonFiniteLoss, TrainingCheckpoint
from tfgan_text.training.resumable_fit import fit_from_step
from tfgan_text.training.run_dir import RunDir
from tfgan_text.training.run_settings import RunSettings, flag
from tfgan_text.training.sample_grid import SampleGrid
from tfgan_text.training.strategy import select_strategy

TEXT_ENCODERS = ("word_rnn", "char_cnn_rnn")
# "dcgan": Reed's D on pixels; "encoder_features": heads on stage 1's frozen image encoder
# (`EncoderFeatureDiscriminator`, as Projected GANs).
DISCRIMINATORS = ("dcgan", "encoder_features")
STAGE_ONE_IMAGE_ENCODER_FILTERS = (32, 64, 128, 256)
TEXT_ENCODER_FILE = "text_encoder.keras"
IMAGE_ENCODER_FILE = "image_encoder.keras"
MODEL_FILE = "model.keras"
SAMPLE_CAPTIONS = 16


# Hard-negative counts: per caption, that many counterfactuals of each kind, in stage 1's
# matching loss and in G's.
TEXT_ENCODER_NEGATIVE_FIELDS = (
    "text_encoder_shape_negatives", "text_encoder_color_negatives", "text_encoder_position_negatives",
)
MATCHING_NEGATIVE_FIELDS = ("matching_shape_negatives", "matching_color_negatives", "matching_position_negatives")
# Options that make counterfactual captions by swapping a shape, colour or place word of the
# built-in shapes captions for another (see `_word_ids`).
WORD_SWAP_FIELDS = (*TEXT_ENCODER_NEGATIVE_FIELDS, *MATCHING_NEGATIVE_FIELDS, "counterfactual_wrong_rate")


@dataclasses.dataclass
class DCGANSettings(RunSettings):
    """Everything that defines a DCGAN run; saved as `run.json` in the run directory.

    Architecture fields must match when a run is resumed; training fields may change
    (e.g. more `epochs`). Defaults are sized for a 2-core CPU; Reed et al. used ngf 128,
    ndf 64, batch 64, 600 epochs.
    """

    # data
    data: str = "shapes"
    format: str = "auto"
    seed: int = 0
    # architecture
    image_size: int = 64
    noise_dim: int = 100
    ngf: int = 32
    ndf: int = 32
    text_encoder: str = "word_rnn"
    text_embedding_dim: int = 128
    text_hidden_dim: int = 128
    max_length: int = 32
    min_count: int = 1
    discriminator: str = "dcgan"
    discriminator_levels: int = 3  # encoder_features: how many of the encoder's 4 maps D reads
    # encoder_features: weight of an unconditional patch head's GAN loss (PatchGAN); 0: no head.
    discriminator_patch_weight: float = 0.0
    # encoder_features: the encoder's convolution blocks train with D's heads (its own copy; the
    # matching loss's teacher stays frozen).
    discriminator_fine_tune: bool = False
    spectral_norm: bool = False
    projection_discriminator: bool = False
    generator_upsampling: str = "transposed"
    generator_conditioning: str = "input"
    # Sizes of G's maps where AttnGAN's word attention reads the caption's words ([]: none).
    generator_attention_sizes: list = dataclasses.field(default_factory=list)
    # training
    epochs: int = 10
    steps_per_epoch: int | None = None
    batch_size: int = 64
    text_encoder_epochs: int = 3
    # Stage 1's matching loss: the softmax scale (AttnGAN's gamma3), and for shapes data with
    # the word encoder, hard negatives per caption made by swapping one shape / colour word.
    # 7 shape negatives separate shapes far better (cosine of captions differing only in shape
    # 0.98 -> 0.79 after 3 epochs, bench/text_embedding_separation.py) at 2.75x the stage-1
    # cost; off by default until a quality run shows the GAN gains from it.
    text_encoder_gamma: float = 10.0
    # Stage 1's image encoder halves its maps by "strided" convolutions or "max_pool" (3x3
    # convolutions at full resolution, VGG-like), see `ImageEncoder`.
    text_encoder_image_downsampling: str = "strided"
    # Row and column channels into each of its blocks (CoordConv): its pooled feature, the
    # matching loss's teacher, can then say where things are.
    text_encoder_image_coordinates: bool = False
    text_encoder_shape_negatives: int = 0
    text_encoder_color_negatives: int = 0
    # ... and with a place word swapped for its opposite (left/right, top/bottom, alternately).
    text_encoder_position_negatives: int = 0
    # Weight of DAMSM's word loss beside stage 1's sentence loss (AttnGAN: 1; 0: off): each
    # word has to find its region of the image, so two-object captions need both objects.
    text_encoder_word_weight: float = 0.0
    # The hard negatives above also enter that word loss: a swapped word must not find itself.
    text_encoder_word_negatives: bool = False
    loss: str = "gan_cls"
    label_smoothing: float = 0.0
    # Share of GAN-CLS wrong captions that are the image's own caption with one shape word
    # swapped (shapes data, word encoder): wrong only in shape, so D must look at shape.
    counterfactual_wrong_rate: float = 0.0
    # Weight of the DAMSM sentence loss in G's loss (AttnGAN's lambda), through stage 1's
    # frozen image encoder; 0: off, as Reed.
    matching_weight: float = 0.0
    # For shapes data with the word encoder: shape-swapped captions per caption, hard
    # negatives of that loss (see `TextConditionalDCGAN`'s `matching_swap_groups`).
    matching_shape_negatives: int = 0
    matching_color_negatives: int = 0  # the same with one colour word swapped
    matching_position_negatives: int = 0  # ... with one place word swapped for its opposite
    # Weight of DAMSM's word loss beside the sentence loss in G's matching term (AttnGAN: 1).
    matching_word_weight: float = 0.0
    matching_word_negatives: bool = False  # the matching negatives also enter that word loss
    # Weight of XMC-GAN's image-image contrastive loss in G's loss: through stage 1's frozen
    # image encoder, G(z, h_i) must be nearer real image i than the batch's other real images.
    image_matching_weight: float = 0.0
    # Weight of pix2pix's L1 term pulling G(z, h_i) towards real image i; 0: off, as Reed.
    reconstruction_weight: float = 0.0
    # DiffAugment's translation: images D and the matching loss's encoder see are first moved
    # by up to this fraction of the image side (0.0625: 4 pixels at 64); 0: off.
    augment_shift: float = 0.0
    # DiffAugment's cutout: each image D sees (only D) has a grey square of this fraction of the
    # image side at a random place, after its shift (DiffAugment: 0.5); 0: off.
    augment_cutout: float = 0.0
    captions_per_image: int = 1
    gan_int: bool = True
    interpolation_beta: float = 0.5
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    checkpoint_every: int = 200

    ARCHITECTURE = (
        "image_size", "noise_dim", "ngf", "ndf", "text_encoder", "text_embedding_dim",
        "text_hidden_dim", "max_length", "min_count", "discriminator", "discriminator_levels",
        "discriminator_patch_weight", "discriminator_fine_tune", "spectral_norm", "projection_discriminator",
        "generator_upsampling", "generator_conditioning", "generator_attention_sizes", "matching_weight", "matching_shape_negatives",
        "matching_color_negatives", "matching_position_negatives", "matching_word_weight",
        "matching_word_negatives", "image_matching_weight",
    )

    def check(self):
        self.check_positive(("image_size", "noise_dim", "ngf", "ndf", "text_embedding_dim", "text_hidden_dim",
                             "max_length", "epochs", "batch_size", "captions_per_image", "min_count"))
        for name in (*TEXT_ENCODER_NEGATIVE_FIELDS, *MATCHING_NEGATIVE_FIELDS):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"{name.replace('_', '-')} must be an integer >= 0, got {value!r}")
        if not self.text_encoder_gamma > 0:
            raise UserError(f"text-encoder-gamma must be > 0, got {self.text_encoder_gamma!r}")
        for name in ("matching_weight", "reconstruction_weight", "text_encoder_word_weight", "matching_word_weight",
                     "discriminator_patch_weight", "image_matching_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise UserError(f"{name.replace('_', '-')} must be a number >= 0, got {value!r}")
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
        for name, upper in (("augment_shift", 0.5), ("augment_cutout", 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < upper:
                raise UserError(f"{flag(name)} must be a number in [0, {upper:g}), got {value!r}")
        if not 0.0 <= self.counterfactual_wrong_rate <= 1.0:
            raise UserError(f"counterfactual-wrong-rate must be in [0, 1], got {self.counterfactual_wrong_rate!r}")
        word_swaps = [name for name in WORD_SWAP_FIELDS if getattr(self, name)]
        if word_swaps and (self.data != "shapes" or self.text_encoder != "word_rnn"):
            raise UserError(f"{word_swaps[0].replace('_', '-')} swaps shapes words in captions: it needs the built-in "
                            f"shapes data and the word_rnn text encoder, not {self.data!r} with {self.text_encoder!r}")
        self.check_choice("text_encoder_image_downsampling", DOWNSAMPLINGS)
        self.check_choice("generator_upsampling", UPSAMPLINGS)
        self.check_choice("generator_conditioning", CONDITIONINGS)
        self.check_choice("discriminator", DISCRIMINATORS)
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
        if self.text_encoder not in TEXT_ENCODERS:
            raise UserError(f"unknown text encoder {self.text_encoder!r}; expected one of {', '.join(TEXT_ENCODERS)}")
        if self.steps_per_epoch is not None and self.steps_per_epoch <= 0:
            raise UserError(f"steps-per-epoch must be a positive integer, got {self.steps_per_epoch}")
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


class _Run:
    """What both stages need: the run directory, settings, training data and tokenizer."""

    def __init__(self, out, resume, settings):
        self.dir = RunDir(out)
        if resume:
            self.config = DCGANSettings().resumed_from(self.dir.read_settings(), settings)
        else:
            self.config = DCGANSettings(**settings).check()
        config = self.config
        self.source = data.load(config.data, split="train", image_size=config.image_size, format=config.format, seed=config.seed)
        self.steps = config.steps_per_epoch or steps_per_epoch(self.source, config.batch_size)
        if self.steps == 0:
            raise UserError(f"the training split holds fewer than one batch of {config.batch_size} images")
        if not resume:
            vocabulary = Vocabulary.build(data.all_captions(self.source), min_count=config.min_count, max_length=config.max_length)
            self.dir.start(dataclasses.asdict(config))
            vocabulary.save(self.dir.path)
        self.vocabulary = Vocabulary.load(self.dir.path)
        self.tokenize = char_ids if config.text_encoder == "char_cnn_rnn" else Tokenizer(self.vocabulary)
        keras.utils.set_random_seed(config.seed)

    def pipeline(self, start_epoch, start_batch):
        config = self.config
        shape_words = _word_ids(self, shapes.ATTRIBUTE_NAMES["shape"]) if config.counterfactual_wrong_rate > 0 else []
        return training_pipeline(
            self.source, config.batch_size, tokenizer=self.tokenize, captions_per_image=config.captions_per_image,
            seed=config.seed, start_epoch=start_epoch, start_batch=start_batch,
            counterfactual_words=shape_words or None, counterfactual_rate=config.counterfactual_wrong_rate,
        )


def train_text_encoder(out, resume=False, strategy="auto", verbose="auto", **settings):
    """Stage 1 alone: pretrains the run's text encoder and reports caption->image recall.

    The encoder is trained jointly with an image encoder by the symmetric matching loss; both
    are saved, as `out/text_encoder.keras` and `out/image_encoder.keras`, and
    `train_dcgan(out, resume=True)` then goes on with the GAN. Returns `(text_encoder, {"recall_at_1": ..., "recall_at_5": ...})` on the `val` split
    (the first 1,000 images), or an empty dict where the dataset has no `val` split.
    """
    run = _Run(out, resume, settings)
    with select_strategy(strategy).scope():
        text_encoder, image_encoder = _pretrain_text_encoder(run, verbose)
    return text_encoder, _validation_recall(run, text_encoder, image_encoder)


def train_dcgan(out, resume=False, strategy="auto", callbacks=(), verbose="auto", **settings):
    """Trains (or resumes) a DCGAN run in directory `out` and returns the trained model.

    Args:
        out: str, the run directory.
        resume: bool, continue the run in `out` from its latest checkpoint.
        strategy: str, see `tfgan_text.training.strategy.select_strategy`.
        callbacks: extra Keras callbacks for `fit`.
        verbose: passed to `fit` (`"auto"`: a progress bar).
        **settings: fields of `DCGANSettings`.

    Returns:
        The trained `TextConditionalDCGAN` (also saved as `out/model.keras`).
    """
    run = _Run(out, resume, settings)
    config = run.config
    with select_strategy(strategy).scope():
        if os.path.exists(run.dir.file(TEXT_ENCODER_FILE)):
            text_encoder = load_model(run.dir.file(TEXT_ENCODER_FILE))
            image_encoder = _saved_image_encoder(run) if _needs_image_encoder(config) else None
        else:
            text_encoder, image_encoder = _pretrain_text_encoder(run, verbose)
        swap_groups = _swap_groups(run, config.matching_shape_negatives, config.matching_color_negatives,
                                   config.matching_position_negatives)
        model = _build_model(config, text_encoder, image_encoder, swap_groups)
        checkpoint = TrainingCheckpoint(run.dir.checkpoints, every_n_steps=config.checkpoint_every)
        step = checkpoint.restore(model)
    stop = StopOnNonFiniteLoss()
    samples = SampleGrid(run.dir.samples, _sample_captions(config, run.source), run.tokenize, config.noise_dim,
                         seed=config.seed, log_dir=run.dir.logs)
    all_callbacks = [stop, checkpoint, samples, keras.callbacks.TensorBoard(run.dir.logs), *callbacks]

    fit_from_step(model, run.pipeline, step, run.steps, config.epochs, checkpoint, stop, all_callbacks, verbose)
    model.save(run.dir.file(MODEL_FILE))
    return model


def _new_text_encoder(config, vocabulary_size):
    if config.text_encoder == "char_cnn_rnn":
        return CharCNNRNNEncoder(embedding_dim=config.text_hidden_dim)
    return WordRNNEncoder(vocabulary_size, embedding_dim=config.text_embedding_dim, hidden_dim=config.text_hidden_dim)


def _pretrain_text_encoder(run, verbose):
    """Stage 1: the text encoder trained jointly with an image encoder; saved in the run."""
    config = run.config
    text_encoder = _new_text_encoder(config, len(run.vocabulary))
    text_encoder(run.tokenize(tf.constant(["a"])))  # build
    image_encoder = ImageEncoder(embedding_dim=config.text_hidden_dim, filters=STAGE_ONE_IMAGE_ENCODER_FILTERS,
                                 downsampling=config.text_encoder_image_downsampling,
                                 coordinates=config.text_encoder_image_coordinates)
    swap_groups = _swap_groups(run, config.text_encoder_shape_negatives, config.text_encoder_color_negatives,
                               config.text_encoder_position_negatives)
    joint = JointEmbedding(
        text_encoder, image_encoder, gamma=config.text_encoder_gamma, match_key="content_key",
        swap_groups=swap_groups, seed=config.seed, word_weight=config.text_encoder_word_weight,
        word_negatives=config.text_encoder_word_negatives,
    )
    joint.compile(optimizer=keras.optimizers.Adam(1e-3))
    key = text_encoder.input_key
    batches = run.pipeline(0, 0).map(
        lambda batch: {"image": batch["image"], key: batch["token_ids"], "content_key": batch["content_key"]}
    )
    joint.fit(batches, epochs=config.text_encoder_epochs, steps_per_epoch=run.steps, verbose=verbose)
    text_encoder.save(run.dir.file(TEXT_ENCODER_FILE))
    image_encoder.save(run.dir.file(IMAGE_ENCODER_FILE))
    return text_encoder, image_encoder


def _needs_image_encoder(config):
    """What in stage 2 reads stage 1's image encoder (the matching loss, D), or None."""
    if config.matching_weight > 0:
        return "matching-weight"
    if config.image_matching_weight > 0:
        return "image-matching-weight"
    if config.discriminator == "encoder_features":
        return "discriminator encoder_features"
    return None


def _saved_image_encoder(run):
    """Stage 1's image encoder, for the matching loss or D; runs whose stage 1 predates saving
    it have none."""
    path = run.dir.file(IMAGE_ENCODER_FILE)
    if not os.path.exists(path):
        raise UserError(f"{_needs_image_encoder(run.config)} needs stage 1's image encoder, and {path} does not "
                        "exist: start a new run")
    return load_model(path)


def _encoder_copy(image_encoder, image_size):
    """A copy of `image_encoder` with its weights, for D: the matching loss keeps the original,
    and each model saves the encoder it holds."""
    copy = ImageEncoder.from_config(image_encoder.get_config())
    copy.build((None, image_size, image_size, 3))
    copy.set_weights(image_encoder.get_weights())
    return copy


def _swap_groups(run, shape_negatives, color_negatives, position_negatives=0):
    """Word groups of counterfactual captions, one per hard negative: `shape_negatives` times
    the shape words, then `color_negatives` times the colour words, then `position_negatives`
    place-word pairs, left/right and top/bottom in turn (see `_word_ids`)."""
    groups = []
    for kinds, count in (([shapes.ATTRIBUTE_NAMES["shape"]], shape_negatives),
                         ([shapes.ATTRIBUTE_NAMES["color"]], color_negatives),
                         (shapes.OPPOSITE_PLACE_WORDS, position_negatives)):
        known = [ids for ids in (_word_ids(run, words) for words in kinds) if ids]
        groups += [known[i % len(known)] for i in range(count)] if known else []
    return groups


def _word_ids(run, words):
    """Token ids of the shapes `words` in the run's vocabulary, for counterfactual captions;
    [] unless the run is on shapes data with the word encoder (or fewer than two of the words
    are known)."""
    if run.config.data != "shapes" or run.config.text_encoder != "word_rnn":
        return []
    ids = [run.vocabulary.id(word) for word in words if word in run.vocabulary]
    return ids if len(ids) > 1 else []


def _validation_recall(run, text_encoder, image_encoder, num_images=1000):
    config = run.config
    try:
        split = data.load(config.data, split="val", image_size=config.image_size, format=config.format, seed=config.seed)
    except UserError:
        return {}

    def prepare(example):
        image = tf.cast(example["image"], tf.float32) / 127.5 - 1.0
        return {"image": image, text_encoder.input_key: run.tokenize(example["captions"])}

    batches = split.take(num_images).map(prepare).padded_batch(100)
    return caption_to_image_recall(text_encoder, image_encoder, batches)


def _build_model(config, text_encoder, image_encoder=None, matching_swap_groups=()):
    generator = DCGANGenerator(
        image_size=config.image_size, noise_dim=config.noise_dim, embedding_dim=config.text_hidden_dim, ngf=config.ngf,
        upsampling=config.generator_upsampling, conditioning=config.generator_conditioning,
        attention_sizes=config.generator_attention_sizes, words_dim=config.text_hidden_dim,
    )
    if config.discriminator == "encoder_features":
        discriminator = EncoderFeatureDiscriminator(
            _encoder_copy(image_encoder, config.image_size), embedding_dim=config.text_hidden_dim, width=config.ndf,
            levels=config.discriminator_levels, patch_head=config.discriminator_patch_weight > 0,
            fine_tune_encoder=config.discriminator_fine_tune,
        )
        discriminator.build({"image": (None, config.image_size, config.image_size, 3),
                             "embedding": (None, config.text_hidden_dim)})
    else:
        discriminator = DCGANDiscriminator(
            image_size=config.image_size, embedding_dim=config.text_hidden_dim, ndf=config.ndf,
            spectral_norm=config.spectral_norm, projection=config.projection_discriminator,
        )
    model = TextConditionalDCGAN(
        generator, discriminator, text_encoder, gan_int=config.gan_int,
        interpolation_beta=config.interpolation_beta, seed=config.seed,
        image_encoder=image_encoder if config.matching_weight > 0 or config.image_matching_weight > 0 else None,
        matching_weight=config.matching_weight, image_matching_weight=config.image_matching_weight,
        matching_gamma=config.text_encoder_gamma,
        matching_swap_groups=matching_swap_groups or None, matching_word_weight=config.matching_word_weight,
        matching_word_negatives=config.matching_word_negatives,
        reconstruction_weight=config.reconstruction_weight, patch_weight=config.discriminator_patch_weight,
        augment_shift=config.augment_shift, augment_cutout=config.augment_cutout,
    )
    model.compile(
        d_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
        g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
        loss=config.loss,
        label_smoothing=config.label_smoothing,
    )
    return model


def _sample_captions(config, source):
    """Fixed captions for the per-epoch sample grid: shapes' canonical captions, else training captions."""
    if config.data == "shapes":
        split = shapes.load_split("val", image_size=32, seed=config.seed, num_examples=SAMPLE_CAPTIONS)
        return [shapes.describe({name: split[name][i] for name in shapes.ATTRIBUTES}) for i in range(SAMPLE_CAPTIONS)]
    return [example["captions"][0].decode("utf-8") for example in source.take(SAMPLE_CAPTIONS).as_numpy_iterator()]
