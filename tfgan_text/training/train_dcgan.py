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
from tfgan_text.data.pipeline import resume_position, steps_per_epoch, training_pipeline
from tfgan_text.errors import UserError
from tfgan_text.models import load_model
from tfgan_text.file_names import IMAGE_ENCODER_FILE, MODEL_FILE, TEXT_ENCODER_FILE
from tfgan_text.metrics.retrieval import caption_to_image_recall
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.joint_embedding import JointEmbedding
from tfgan_text.models.text_encoder import CharCNNRNNEncoder, WordRNNEncoder, char_ids
from tfgan_text.models.text_to_image import generator_terms
from tfgan_text.models.text_to_image.dcgan import DCGANDiscriminator, DCGANGenerator, TextConditionalDCGAN
from tfgan_text.models.text_to_image.encoder_discriminator import EncoderFeatureDiscriminator
from tfgan_text.text.tokenizer import Tokenizer
from tfgan_text.text.vocabulary import Vocabulary
from tfgan_text.training.checkpoints import StopOnNonFiniteLoss, TrainingCheckpoint
from tfgan_text.training.dcgan_settings import STAGE_ONE_IMAGE_ENCODER_FILTERS, DCGANSettings
from tfgan_text.training.multi_worker_fit import fit
from tfgan_text.training.precision import dtype_policy
from tfgan_text.training.resumable_fit import fit_from_step
from tfgan_text.training.run_dir import RunDir
from tfgan_text.training.sample_grid import SampleGrid, sample_captions
from tfgan_text.training.strategy import select_strategy

class _Run:
    """What both stages need: the run directory, settings, training data and tokenizer."""

    def __init__(self, out, resume, settings, strategy):
        self.dir = RunDir.for_worker(out, strategy, resume)
        if resume:
            self.config = DCGANSettings().resumed_from(self.dir.read_settings(), settings)
        else:
            self.config = DCGANSettings.from_given(settings)
        config = self.config
        self.source = data.load(config.data, split="train", image_size=config.image_size, format=config.format, seed=config.seed)
        self.steps = config.steps_per_epoch or steps_per_epoch(self.source, config.batch_size)
        if self.steps == 0:
            raise UserError(f"the training split holds fewer than one batch of {config.batch_size} images")
        if not resume:
            vocabulary = Vocabulary.build(data.all_captions(self.source), min_count=config.min_count, max_length=config.max_length)
            self.dir.start(dataclasses.asdict(config))
            vocabulary.save(self.dir.write_path)
        self.vocabulary = Vocabulary.load(self.dir.path)
        self.tokenize = char_ids if config.text_encoder == "char_cnn_rnn" else Tokenizer(self.vocabulary)
        keras.utils.set_random_seed(config.seed)

    def pipeline(self, step):
        config = self.config
        shape_words = _word_ids(self, shapes.ATTRIBUTE_NAMES["shape"]) if config.counterfactual_wrong_rate > 0 else []
        return training_pipeline(
            self.source, config.batch_size, tokenizer=self.tokenize, captions_per_image=config.captions_per_image,
            random_crop=config.random_crop, flip=config.flip, seed=config.seed,
            **resume_position(self.source, config.batch_size, step), counterfactual_words=shape_words or None,
            counterfactual_rate=config.counterfactual_wrong_rate,
        )


def train_text_encoder(out, resume=False, strategy="auto", verbose="auto", **settings):
    """Stage 1 alone: pretrains the run's text encoder and reports caption->image recall.

    The encoder is trained jointly with an image encoder by the symmetric matching loss; both
    are saved, as `out/text_encoder.keras` and `out/image_encoder.keras`, and
    `train_dcgan(out, resume=True)` then goes on with the GAN. Returns `(text_encoder, {"recall_at_1": ..., "recall_at_5": ...})` on the `val` split
    (the first 1,000 images), or an empty dict where the dataset has no `val` split.
    """
    distribution = select_strategy(strategy)  # first: a multi-worker strategy must precede any TensorFlow op
    run = _Run(out, resume, settings, distribution)
    with dtype_policy(run.config.mixed_precision), distribution.scope():
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
    distribution = select_strategy(strategy)  # first: a multi-worker strategy must precede any TensorFlow op
    run = _Run(out, resume, settings, distribution)
    config = run.config
    with dtype_policy(config.mixed_precision):
        with distribution.scope():
            if os.path.exists(run.dir.file(TEXT_ENCODER_FILE)):
                text_encoder = load_model(run.dir.file(TEXT_ENCODER_FILE))
                image_encoder = _saved_image_encoder(run) if _needs_image_encoder(config) else None
            else:
                text_encoder, image_encoder = _pretrain_text_encoder(run, verbose)
            swap_groups = _swap_groups(run, config.matching_shape_negatives, config.matching_color_negatives,
                                       config.matching_position_negatives)
            model = _build_model(config, text_encoder, image_encoder, swap_groups, run.steps)
            checkpoint = TrainingCheckpoint.in_run(run.dir, config.checkpoint_every)
            step = checkpoint.restore(model)
        stop = StopOnNonFiniteLoss()
        samples = SampleGrid(run.dir.samples, sample_captions(config.data, run.source, config.seed), run.tokenize,
                             config.noise_dim, seed=config.seed, log_dir=run.dir.logs)
        all_callbacks = [stop, checkpoint, samples, keras.callbacks.TensorBoard(run.dir.logs), *callbacks]

        fit_from_step(model, run.pipeline, step, run.steps, config.epochs, checkpoint, stop, all_callbacks, verbose)
        model.save(run.dir.output(MODEL_FILE))
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
    joint.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=config.jit_compile)
    key = text_encoder.input_key
    batches = run.pipeline(0).map(
        lambda batch: {"image": batch["image"], key: batch["token_ids"], "content_key": batch["content_key"]}
    )
    fit(joint, batches, epochs=config.text_encoder_epochs, steps_per_epoch=run.steps, verbose=verbose)
    text_encoder.save(run.dir.output(TEXT_ENCODER_FILE))
    image_encoder.save(run.dir.output(IMAGE_ENCODER_FILE))
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


def _build_model(config, text_encoder, image_encoder=None, hard_negative_groups=(), steps_per_epoch=None):
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
    terms = _generator_terms(config, hard_negatives=bool(hard_negative_groups))
    model = TextConditionalDCGAN(
        generator, discriminator, text_encoder, gan_int=config.gan_int,
        interpolation_beta=config.interpolation_beta, seed=config.seed,
        image_encoder=image_encoder if any(term.uses_image_encoder for term in terms) else None,
        generator_terms=terms, hard_negative_groups=hard_negative_groups or None,
        augment_shift=config.augment_shift, augment_cutout=config.augment_cutout,
    )
    model.compile(
        d_optimizer=keras.optimizers.Adam(_learning_rate(config, steps_per_epoch), beta_1=config.beta_1),
        g_optimizer=keras.optimizers.Adam(_learning_rate(config, steps_per_epoch), beta_1=config.beta_1),
        loss=config.loss,
        label_smoothing=config.label_smoothing,
        jit_compile=config.jit_compile,
    )
    return model


def _generator_terms(config, hard_negatives):
    """The auxiliary terms of G's loss that the settings switch on (`hard_negatives`: the
    model has counterfactual captions for the matching terms)."""
    gamma = config.text_encoder_gamma
    candidates = [
        (config.discriminator_patch_weight, lambda weight: generator_terms.PatchAdversarial(weight)),
        (config.matching_weight, lambda weight: generator_terms.SentenceMatching(
            weight, gamma, hard_negatives=hard_negatives)),
        (config.matching_weight * config.matching_word_weight, lambda weight: generator_terms.WordMatching(
            weight, gamma, hard_negatives=hard_negatives and config.matching_word_negatives)),
        (config.image_matching_weight, lambda weight: generator_terms.ImageMatching(weight, gamma)),
        (config.reconstruction_weight, lambda weight: generator_terms.Reconstruction(weight)),
    ]
    return [make(weight) for weight, make in candidates if weight > 0]


def _learning_rate(config, steps_per_epoch):
    """Adam's rate: constant, or halved every `learning_rate_halving_epochs` epochs (Reed)."""
    if not config.learning_rate_halving_epochs:
        return config.learning_rate
    return keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, decay_steps=config.learning_rate_halving_epochs * steps_per_epoch, decay_rate=0.5,
        staircase=True,
    )

