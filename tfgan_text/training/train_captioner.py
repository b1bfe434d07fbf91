"""Training a caption generator: the work behind `tfgan-text train captioner --mode mle|seqgan|gumbel`.

`mle` trains a `Captioner` by teacher-forced maximum likelihood. `seqgan` and `gumbel` start
from the model of an MLE run (`init_from`): they pretrain an image-conditioned caption
discriminator, then train generator and discriminator adversarially, by policy gradient with
Monte Carlo rollouts (SeqGAN, Yu et al. 2017; Dai et al. 2017) or through straight-through
Gumbel-softmax samples. Every mode runs `model.fit` under the chosen `tf.distribute`
strategy, with checkpoints that `resume=True` continues from, and ends by saving the
generator as `out/model.keras` (what `tfgan-text export` and `caption` read).
"""

import dataclasses
import os
import shutil

import keras
import numpy as np

from tfgan_text import data
from tfgan_text.data.pipeline import resume_position, steps_per_epoch, training_pipeline
from tfgan_text.errors import UserError
from tfgan_text.file_names import DISCRIMINATOR_FILE, MODEL_FILE, TOKENIZER_SETTINGS_FILE, VOCAB_FILE
from tfgan_text.models import load_model
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.image_to_text.caption_discriminator import CaptionDiscriminator
from tfgan_text.models.image_to_text.captioner import Captioner
from tfgan_text.models.image_to_text.gumbel import GumbelCaptionGAN
from tfgan_text.models.image_to_text.seqgan import SeqGAN
from tfgan_text.text.tokenizer import Tokenizer
from tfgan_text.text.vocabulary import Vocabulary
from tfgan_text.training.caption_samples import CaptionSamples
from tfgan_text.training.captioner_settings import MODES, CaptionerSettings
from tfgan_text.training.checkpoints import StopOnNonFiniteLoss, TrainingCheckpoint
from tfgan_text.training.multi_worker_fit import fit
from tfgan_text.training.precision import dtype_policy
from tfgan_text.training.resumable_fit import fit_from_step
from tfgan_text.training.run_dir import RunDir
from tfgan_text.training.run_settings import flag
from tfgan_text.training.strategy import select_strategy

SAMPLE_IMAGES = 16


class _Run:
    """The run directory, settings, training data, vocabulary and tokenizer of a run."""

    def __init__(self, out, resume, settings, strategy):
        self.dir = RunDir.for_worker(out, strategy, resume)
        if resume:
            self.config = CaptionerSettings().resumed_from(self.dir.read_settings(), settings)
        else:
            settings = CaptionerSettings.with_preset(settings)
            self.config = CaptionerSettings(**{**settings, **_inherited_settings(settings)}).check()
        config = self.config
        self.source = data.load(config.data, split="train", image_size=config.image_size, format=config.format,
                                seed=config.seed)
        self.steps = config.steps_per_epoch or steps_per_epoch(self.source, config.batch_size)
        if self.steps == 0:
            raise UserError(f"the training split holds fewer than one batch of {config.batch_size} images")
        if not resume:
            self.dir.start(dataclasses.asdict(config))
            if config.mode == "mle":
                Vocabulary.build(data.all_captions(self.source), min_count=config.min_count,
                                 max_length=config.max_length).save(self.dir.write_path)
            else:
                for name in (VOCAB_FILE, TOKENIZER_SETTINGS_FILE):
                    shutil.copyfile(os.path.join(config.init_from, name), self.dir.output(name))
        self.vocabulary = Vocabulary.load(self.dir.path)
        self.tokenizer = Tokenizer(self.vocabulary)
        keras.utils.set_random_seed(config.seed)

    def pipeline(self, step):
        config = self.config
        return training_pipeline(self.source, config.batch_size, tokenizer=self.tokenizer, seed=config.seed,
                                 **resume_position(self.source, config.batch_size, step))

    def sample_callback(self, captioner=None):
        config = self.config
        try:
            split = data.load(config.data, split="val", image_size=config.image_size, format=config.format,
                              seed=config.seed)
        except UserError:
            split = self.source
        examples = list(split.take(SAMPLE_IMAGES).as_numpy_iterator())
        return CaptionSamples(
            self.dir.samples, np.stack([e["image"] for e in examples]),
            [e["captions"][0].decode("utf-8") for e in examples], self.tokenizer, captioner=captioner,
            log_dir=self.dir.logs,
        )


def train_captioner(out, resume=False, strategy="auto", callbacks=(), verbose="auto", **settings):
    """Trains (or resumes) a captioner run in directory `out` and returns the trained `Captioner`.

    Args:
        out: str, the run directory.
        resume: bool, continue the run in `out` from its latest checkpoint.
        strategy: str, see `tfgan_text.training.strategy.select_strategy`.
        callbacks: extra Keras callbacks for `fit`.
        verbose: passed to `fit` (`"auto"`: a progress bar).
        **settings: fields of `CaptionerSettings` (`mode`, `init_from`, `epochs`, ...).

    Returns:
        The trained `Captioner` (also saved as `out/model.keras`).
    """
    distribution = select_strategy(strategy)  # first: a multi-worker strategy must precede any TensorFlow op
    run = _Run(out, resume, settings, distribution)
    config = run.config
    with dtype_policy(config.mixed_precision):
        with distribution.scope():
            if config.mode == "mle":
                model = _build_mle_model(config, len(run.vocabulary), total_steps=config.epochs * run.steps)
                captioner = lambda: model  # noqa: E731
            else:
                model = _build_adversarial_model(run, verbose)
                captioner = lambda: model.captioner  # noqa: E731
            checkpoint = TrainingCheckpoint.in_run(run.dir, config.checkpoint_every)
            step = checkpoint.restore(model)
        stop = StopOnNonFiniteLoss()
        all_callbacks = [stop, checkpoint, run.sample_callback(captioner), keras.callbacks.TensorBoard(run.dir.logs),
                         *callbacks]
        fit_from_step(model, run.pipeline, step, run.steps, config.epochs, checkpoint, stop, all_callbacks, verbose)
        if config.mode != "mle":
            model.discriminator.save(run.dir.output(DISCRIMINATOR_FILE))
        captioner().save(run.dir.output(MODEL_FILE))
    return captioner()


def _inherited_settings(settings):
    """For a new adversarial run: the architecture and data of the MLE run it starts from."""
    mode = settings.get("mode", "mle")
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "mle":
        if settings.get("init_from"):
            raise UserError("--init-from applies to --mode seqgan or gumbel; an MLE run starts from scratch")
        return {}
    init_from = settings.get("init_from")
    hint = "train one first with `tfgan-text train captioner --mode mle --out RUN_DIR`, then pass --init-from RUN_DIR"
    if not init_from:
        raise UserError(f"--mode {mode} starts from an MLE captioner: {hint}")
    if not os.path.isfile(os.path.join(init_from, MODEL_FILE)):
        raise UserError(f"{init_from} holds no trained MLE captioner ({MODEL_FILE}): {hint}")
    saved = CaptionerSettings.saved(RunDir(init_from).read_settings())
    if saved.get("mode") != "mle":
        raise UserError(f"{init_from} is a {saved.get('mode')!r} run, not an MLE captioner run: {hint}")
    for name in CaptionerSettings.INHERITED:
        if name in settings and settings[name] != saved.get(name):
            raise UserError(f"--{flag(name)} comes from the MLE run {init_from} ({saved.get(name)!r}); leave it out")
    return {name: saved[name] for name in CaptionerSettings.INHERITED if name in saved} | {
        "init_from": os.path.abspath(init_from)
    }


def _image_encoder(config, regions=False):
    """The run's from-scratch CNN, as G and D both have it (G's also gives regions to attend over)."""
    return ImageEncoder(embedding_dim=config.hidden_dim, filters=config.encoder_filters, regions=regions,
                        pooling=config.encoder_pooling, downsampling=config.encoder_downsampling,
                        coordinates=config.encoder_coordinates, name="image_encoder")


def _new_captioner(config, vocabulary_size):
    encoder = _image_encoder(config, regions=config.attention_heads > 0)
    captioner = Captioner(vocabulary_size, max_length=config.max_length, embedding_dim=config.embedding_dim,
                          hidden_dim=config.hidden_dim, image_encoder=encoder, dropout=config.dropout,
                          attention_heads=config.attention_heads)
    captioner.build({"image": (None, config.image_size, config.image_size, 3)})
    return captioner


def _build_mle_model(config, vocabulary_size, total_steps):
    captioner = _new_captioner(config, vocabulary_size)
    rate = config.generator_learning_rate
    if config.learning_rate_decay == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=total_steps, alpha=0.05)
    captioner.compile(optimizer=keras.optimizers.Adam(rate), jit_compile=config.jit_compile)
    return captioner


def _adversarial_model(config, captioner, discriminator, discriminator_only=False):
    options = dict(mle_weight=config.mle_weight, d_steps=config.d_steps, discriminator_only=discriminator_only,
                   seed=config.seed)
    if config.mode == "gumbel":
        return GumbelCaptionGAN(
            captioner, discriminator, temperature_initial=config.temperature_initial,
            temperature_min=config.temperature_min, temperature_decay=config.temperature_decay, **options,
        )
    return SeqGAN(captioner, discriminator, num_rollouts=config.rollouts, baseline=config.baseline,
                  rollout_update_rate=config.rollout_update_rate, entropy_weight=config.entropy_weight, **options)


def _build_adversarial_model(run, verbose):
    """G from the MLE run, D pretrained (once per run, saved as `discriminator.keras`), compiled."""
    config = run.config
    captioner = load_model(os.path.join(config.init_from, MODEL_FILE))
    if os.path.exists(run.dir.file(DISCRIMINATOR_FILE)):
        discriminator = load_model(run.dir.file(DISCRIMINATOR_FILE))
    else:
        discriminator = _pretrained_discriminator(run, captioner, verbose)
    model = _adversarial_model(config, captioner, discriminator)
    model.compile(g_optimizer=keras.optimizers.Adam(config.generator_learning_rate),
                  d_optimizer=keras.optimizers.Adam(config.d_learning_rate), jit_compile=config.jit_compile)
    return model


def _pretrained_discriminator(run, captioner, verbose):
    """D, its image encoder initialised from G's, trained alone against the MLE generator's
    samples for `d_pretrain_epochs` (SeqGAN's D pretraining), then saved in the run."""
    config = run.config
    encoder = _image_encoder(config)
    discriminator = CaptionDiscriminator(len(run.vocabulary), embedding_dim=config.embedding_dim,
                                         hidden_dim=config.hidden_dim, image_encoder=encoder)
    discriminator.build({"image": (None, config.image_size, config.image_size, 3)})
    # D's CNN starts as G's, trained by MLE: Dai et al. 2017 give both the same pretrained CNN.
    # One trained from scratch in D's short pretraining hardly sees shapes, so D cannot tell a
    # caption that names the wrong shape from a true one.
    for mine, trained in zip(encoder.blocks + [encoder.global_projection],
                             captioner.image_encoder.blocks + [captioner.image_encoder.global_projection]):
        mine.set_weights(trained.get_weights())
    if config.d_pretrain_epochs:
        pretraining = _adversarial_model(config, captioner, discriminator, discriminator_only=True)
        pretraining.compile(d_optimizer=keras.optimizers.Adam(config.d_learning_rate), jit_compile=config.jit_compile)
        fit(pretraining, run.pipeline(0), epochs=config.d_pretrain_epochs, steps_per_epoch=run.steps,
            verbose=verbose)
    discriminator.save(run.dir.output(DISCRIMINATOR_FILE))
    return discriminator
