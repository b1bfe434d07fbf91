"""DAMSM pretraining, the work behind `tfgan-text train damsm`.

AttnGAN (Xu et al. 2018, sec. 3.3) pretrains its Deep Attentional Multimodal Similarity Model
before the GAN: a bi-LSTM text encoder (word and sentence features) and an image encoder
(region and global features, all of width E) trained with DAMSM's word and sentence losses,
each symmetric over the batch. Here that is `JointEmbedding` with the word loss on, under
`model.fit` and the chosen `tf.distribute` strategy, with checkpoints that `resume=True`
continues from. The run ends with both encoders saved and measured on the `val` split:

```
RUN_DIR/
  run.json  vocab.txt  tokenizer.json     settings and vocabulary
  checkpoints/  logs/                     for --resume, and TensorBoard
  text_encoder.keras                      WordRNNEncoder: {"words", "sentence", "mask"}
  image_encoder.keras                     ImageEncoder or BackboneImageEncoder: {"regions", "global"}
  damsm_report.json                       recall@1/5 both ways and R-precision on val
```
"""

import dataclasses
import json

import keras
import tensorflow as tf

from tfgan_text import data
from tfgan_text.data.pipeline import resume_position, steps_per_epoch, training_pipeline
from tfgan_text.errors import UserError
from tfgan_text.file_names import DAMSM_REPORT_FILE, IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE
from tfgan_text.metrics.damsm_validation import damsm_validation
from tfgan_text.models.backbone_image_encoder import BackboneImageEncoder
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.joint_embedding import JointEmbedding
from tfgan_text.models.text_encoder import WordRNNEncoder
from tfgan_text.text.tokenizer import Tokenizer
from tfgan_text.text.vocabulary import Vocabulary
from tfgan_text.training.checkpoints import StopOnNonFiniteLoss, TrainingCheckpoint
from tfgan_text.training.damsm_settings import DAMSMSettings
from tfgan_text.training.resumable_fit import fit_from_step
from tfgan_text.training.precision import dtype_policy
from tfgan_text.training.run_dir import RunDir, write_atomically
from tfgan_text.training.strategy import select_strategy

VALIDATION_IMAGES = 1000


class _Run:
    """The run directory, settings, training data, vocabulary and tokenizer of a DAMSM run."""

    def __init__(self, out, resume, settings, strategy):
        self.dir = RunDir.for_worker(out, strategy, resume)
        if resume:
            self.config = DAMSMSettings().resumed_from(self.dir.read_settings(), settings)
        else:
            self.config = DAMSMSettings.from_given(settings)
        config = self.config
        self.source = data.load(config.data, split="train", image_size=config.image_size, format=config.format,
                                seed=config.seed)
        self.steps = config.steps_per_epoch or steps_per_epoch(self.source, config.batch_size)
        if self.steps == 0:
            raise UserError(f"the training split holds fewer than one batch of {config.batch_size} images")
        if resume:
            self.vocabulary = Vocabulary.load(self.dir.path)
        else:
            self.vocabulary = Vocabulary.build(data.all_captions(self.source), min_count=config.min_count,
                                               max_length=config.max_length)
        self.tokenizer = Tokenizer(self.vocabulary)
        keras.utils.set_random_seed(config.seed)

    def start(self):
        """Writes the settings and vocabulary of a new run (once its encoders are built)."""
        self.dir.start(dataclasses.asdict(self.config))
        self.vocabulary.save(self.dir.write_path)

    def pipeline(self, step):
        config = self.config
        batches = training_pipeline(self.source, config.batch_size, tokenizer=self.tokenizer,
                                    random_crop=config.random_crop, flip=config.flip, seed=config.seed,
                                    **resume_position(self.source, config.batch_size, step))
        return batches.map(lambda batch: {key: batch[key] for key in ("image", "token_ids", "content_key")})


def train_damsm(out, resume=False, strategy="auto", verbose="auto", callbacks=(), **settings):
    """Trains (or resumes) a DAMSM run in directory `out` and measures it on the `val` split.

    Args:
        out: str, the run directory.
        resume: bool, continue the run in `out` from its latest checkpoint.
        strategy: str, see `tfgan_text.training.strategy.select_strategy`.
        verbose: passed to `fit` (`"auto"`: a progress bar).
        callbacks: extra Keras callbacks for `fit`.
        **settings: fields of `DAMSMSettings`.

    Returns:
        `(text_encoder, image_encoder, report)`: the trained encoders (also saved in `out`)
        and the report of `damsm_validation` on the first 1,000 `val` images, with `split`
        (saved as `out/damsm_report.json`); only `notes` where the data has no `val` split.

    Example:
        >>> text_encoder, image_encoder, report = train_damsm("runs/damsm", preset="shapes")
        >>> report["r_precision"]["mean"]
    """
    _, text_encoder, image_encoder, report = train_damsm_run(out, resume, strategy, verbose, callbacks, **settings)
    return text_encoder, image_encoder, report


def train_damsm_run(out, resume=False, strategy="auto", verbose="auto", callbacks=(), **settings):
    """`train_damsm`, returning also the `RunDir` this process wrote the run to (a worker's
    temporary copy in a multi-worker run, see `RunDir.for_worker`) first."""
    distribution = select_strategy(strategy)  # first: a multi-worker strategy must precede any TensorFlow op
    run = _Run(out, resume, settings, distribution)
    config = run.config
    with dtype_policy(config.mixed_precision):
        with distribution.scope():
            text_encoder = WordRNNEncoder(len(run.vocabulary), embedding_dim=config.text_embedding_dim,
                                          hidden_dim=config.text_hidden_dim, rnn_type=config.rnn_type)
            text_encoder(run.tokenizer(tf.constant(["a"])))  # build
            image_encoder = _image_encoder(config)
            image_encoder(tf.zeros([1, config.image_size, config.image_size, 3]))  # build
            model = JointEmbedding(text_encoder, image_encoder, gamma=config.gamma3, match_key="content_key",
                                   word_weight=config.word_weight, gamma1=config.gamma1, gamma2=config.gamma2)
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
                          jit_compile=config.jit_compile)
            if not resume:
                run.start()
            checkpoint = TrainingCheckpoint.in_run(run.dir, config.checkpoint_every)
            step = checkpoint.restore(model)
        stop = StopOnNonFiniteLoss()
        all_callbacks = [stop, checkpoint, keras.callbacks.TensorBoard(run.dir.logs), *callbacks]
        fit_from_step(model, run.pipeline, step, run.steps, config.epochs, checkpoint, stop, all_callbacks, verbose)
        text_encoder.save(run.dir.output(TEXT_ENCODER_FILE))
        image_encoder.save(run.dir.output(IMAGE_ENCODER_FILE))
    report = _validation_report(run, text_encoder, image_encoder)
    write_atomically(run.dir.output(DAMSM_REPORT_FILE), json.dumps(report, indent=2).encode())
    return run.dir, text_encoder, image_encoder, report


def _image_encoder(config):
    """The from-scratch CNN, or a frozen `keras.applications` network with its weights file."""
    if config.image_encoder == "cnn":
        return ImageEncoder(embedding_dim=config.text_hidden_dim, filters=config.image_encoder_filters)
    return BackboneImageEncoder(config.image_encoder, config.backbone_region_layer, embedding_dim=config.text_hidden_dim,
                                input_size=config.backbone_image_size or config.image_size, weights=config.backbone_weights)


def _validation_report(run, text_encoder, image_encoder):
    config = run.config
    try:
        split = data.load(config.data, split="val", image_size=config.image_size, format=config.format, seed=config.seed)
    except UserError as error:
        return {"notes": [f"no val split to measure on: {error}"]}
    report = damsm_validation(text_encoder, image_encoder, split, run.tokenizer, num_images=VALIDATION_IMAGES,
                              seed=config.seed)
    return {"split": "val", **report}
