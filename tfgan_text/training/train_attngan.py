"""Training AttnGAN end to end: the work behind `tfgan-text train attngan`.

The DAMSM encoders come from a finished `train damsm` run (`damsm=RUN`) or, without one, from
a DAMSM run of preset `damsm_preset` trained first in `out/damsm` (its stage 1). Then the
`AttnGAN` model is trained by `model.fit` under the chosen `tf.distribute` strategy, with
checkpoints that `resume=True` continues from, a sample grid per epoch (with every stage) and
TensorBoard scalars.
"""

import dataclasses
import os

import keras

from tfgan_text import data
from tfgan_text.data.pipeline import resume_position, steps_per_epoch, training_pipeline
from tfgan_text.errors import UserError
from tfgan_text.file_names import IMAGE_ENCODER_FILE, MODEL_FILE, RUN_SETTINGS_FILE, TEXT_ENCODER_FILE, VOCAB_FILE
from tfgan_text.models import load_model
from tfgan_text.models.text_to_image.attngan import AttnGAN, AttnGANGenerator, StageDiscriminator
from tfgan_text.text.tokenizer import Tokenizer
from tfgan_text.text.vocabulary import Vocabulary
from tfgan_text.training.attngan_settings import AttnGANSettings
from tfgan_text.training.checkpoints import StopOnNonFiniteLoss, TrainingCheckpoint
from tfgan_text.training.precision import dtype_policy
from tfgan_text.training.resumable_fit import fit_from_step
from tfgan_text.training.run_dir import RunDir
from tfgan_text.training.sample_grid import SampleGrid, sample_captions
from tfgan_text.training.strategy import select_strategy

DAMSM_DIR = "damsm"
DAMSM_FILES = (TEXT_ENCODER_FILE, IMAGE_ENCODER_FILE, VOCAB_FILE, RUN_SETTINGS_FILE)


def train_attngan(out, resume=False, strategy="auto", callbacks=(), verbose="auto", **settings):
    """Trains (or resumes) an AttnGAN run in directory `out` and returns the trained model.

    Args:
        out: str, the run directory.
        resume: bool, continue the run in `out` from its latest checkpoint.
        strategy: str, see `tfgan_text.training.strategy.select_strategy`.
        callbacks: extra Keras callbacks for `fit`.
        verbose: passed to `fit`.
        **settings: fields of `AttnGANSettings`.

    Returns:
        The trained `AttnGAN` (also saved as `out/model.keras`).
    """
    distribution = select_strategy(strategy)  # first: a multi-worker strategy must precede any TensorFlow op
    run_dir = RunDir.for_worker(out, distribution, resume)
    if resume:
        config = AttnGANSettings().resumed_from(run_dir.read_settings(), settings)
    else:
        config = AttnGANSettings.from_given(settings)
        if config.damsm is not None:
            _check_damsm_run(config.damsm)
    source = data.load(config.data, split="train", image_size=config.image_size, format=config.format, seed=config.seed)
    steps = config.steps_per_epoch or steps_per_epoch(source, config.batch_size)
    if steps == 0:
        raise UserError(f"the training split holds fewer than one batch of {config.batch_size} images")
    if not resume:
        run_dir.start(dataclasses.asdict(config))
    damsm_dir = config.damsm or run_dir.file(DAMSM_DIR)
    if config.damsm is None and not os.path.isfile(os.path.join(damsm_dir, TEXT_ENCODER_FILE)):
        from tfgan_text.training.train_damsm import train_damsm_run

        damsm_run, *_ = train_damsm_run(
            damsm_dir, resume=os.path.isfile(os.path.join(damsm_dir, RUN_SETTINGS_FILE)), strategy=strategy,
            verbose=verbose, preset=config.damsm_preset, data=config.data, format=config.format, seed=config.seed,
            mixed_precision=config.mixed_precision, jit_compile=config.jit_compile)
        damsm_dir = damsm_run.write_path
    vocabulary = Vocabulary.load(damsm_dir)
    vocabulary.save(run_dir.write_path)  # the model reads the DAMSM's token ids: export needs its vocabulary
    tokenizer = Tokenizer(vocabulary)
    keras.utils.set_random_seed(config.seed)

    with dtype_policy(config.mixed_precision):
        with distribution.scope():
            model = _build_model(config, damsm_dir)
            checkpoint = TrainingCheckpoint.in_run(run_dir, config.checkpoint_every)
            step = checkpoint.restore(model)
        stop = StopOnNonFiniteLoss()
        samples = SampleGrid(run_dir.samples, sample_captions(config.data, source, config.seed), tokenizer,
                             model.generator.noise_dim, seed=config.seed, log_dir=run_dir.logs)
        all_callbacks = [stop, checkpoint, samples, keras.callbacks.TensorBoard(run_dir.logs), *callbacks]

        def pipeline(step):
            return training_pipeline(source, config.batch_size, tokenizer=tokenizer, seed=config.seed,
                                     **resume_position(source, config.batch_size, step))

        fit_from_step(model, pipeline, step, steps, config.epochs, checkpoint, stop, all_callbacks, verbose)
        model.save(run_dir.output(MODEL_FILE))
    return model


def _check_damsm_run(path):
    """A clear error unless `path` is a finished `train damsm` run."""
    missing = [name for name in DAMSM_FILES if not os.path.isfile(os.path.join(path, name))]
    if missing:
        raise UserError(f"--damsm {path} is not a finished `train damsm` run: no {', '.join(missing)}")


def _build_model(config, damsm_dir):
    damsm_settings = RunDir(damsm_dir).read_settings()
    text_encoder = load_model(os.path.join(damsm_dir, TEXT_ENCODER_FILE))
    image_encoder = load_model(os.path.join(damsm_dir, IMAGE_ENCODER_FILE))
    width = int(damsm_settings["text_hidden_dim"])
    generator = AttnGANGenerator(
        base_size=config.base_size, stages=config.stages, latent_dim=config.latent_dim,
        condition_dim=config.condition_dim, embedding_dim=width, words_dim=width, ngf=config.ngf,
        residual_blocks=config.residual_blocks,
    )
    discriminators = [StageDiscriminator(size, embedding_dim=width, ndf=config.ndf) for size in generator.sizes]
    model = AttnGAN(
        generator, discriminators, text_encoder, image_encoder, damsm_image_size=damsm_settings["image_size"],
        damsm_weight=config.damsm_weight, kl_weight=config.kl_weight, gamma1=damsm_settings.get("gamma1", 4.0),
        gamma2=damsm_settings.get("gamma2", 5.0), gamma3=damsm_settings.get("gamma3", 10.0), seed=config.seed,
    )
    model.compile(
        d_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
        g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
        jit_compile=config.jit_compile,
    )
    return model
