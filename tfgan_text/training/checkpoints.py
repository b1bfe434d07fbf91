"""Checkpoints that let `--resume` continue a run: weights, optimizer state, the step counter.

`tf.train.CheckpointManager` writes a checkpoint's files first and then, atomically, the
`checkpoint` index that names the latest one, so a process killed while saving leaves the
previous checkpoint intact.
"""

import math
import shutil

import keras
import tensorflow as tf

from tfgan_text.errors import UserError
from tfgan_text.file_names import CHECKPOINTS_DIR


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves the model and its optimizers every `every_n_steps` steps and at each epoch's end.

    The global step counter travels with the checkpoint; with the number of steps per epoch
    it tells a resumed run at which epoch and batch to go on. A step whose logs hold a NaN or
    infinite value is never saved: the last good checkpoint stays the latest.

    In a multi-worker run every worker saves (saving may read variables across workers), but
    only the chief into `directory`; the others save into `write_directory` and delete it
    again, as TensorFlow's multi-worker guide prescribes. Every worker restores from
    `directory`, the chief's.

    Args:
        directory: str, the checkpoint directory.
        every_n_steps: int, save period in training steps (0: only at epoch ends).
        max_to_keep: int, how many checkpoints to keep.
        write_directory: optional str, where this process saves, when not `directory` (a
            worker other than the chief: the directory is deleted after each save).

    Example:
        >>> checkpoint = TrainingCheckpoint("runs/a/checkpoints", every_n_steps=200)
        >>> step = checkpoint.restore(model)  # 0 for a new run
        >>> model.fit(dataset, callbacks=[checkpoint], ...)
    """

    def __init__(self, directory, every_n_steps=200, max_to_keep=3, write_directory=None):
        super().__init__()
        self.directory = directory
        self.write_directory = write_directory or directory
        self.every_n_steps = every_n_steps
        self.max_to_keep = max_to_keep
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self._manager = None
        self.unsaved_failure = False

    @classmethod
    def in_run(cls, run_dir, every_n_steps):
        """The checkpoints of a `RunDir`: restored from the run's, saved where this process
        writes (see `RunDir.for_worker`)."""
        return cls(run_dir.checkpoints, every_n_steps=every_n_steps, write_directory=run_dir.output(CHECKPOINTS_DIR))

    def _checkpoint_manager(self, model):
        """The manager of a checkpoint that lists the model's variables and its optimizers'.

        Variables are listed rather than reached through the model's attributes: TensorFlow's
        object graph does not walk the Python lists in which Keras keeps layers (e.g.
        `ImageEncoder.blocks`), so their weights would be left out of the checkpoint. The list
        order is that of `model.variables`, fixed by the architecture. Optimizers are built
        first (a GAN's `compile` builds its own; a model's single `optimizer` is built here on
        its trainable variables), so that their slots are in the list too.
        """
        if self._manager is None:
            optimizers = {name: value for name, value in vars(model).items() if isinstance(value, keras.optimizers.Optimizer)}
            for optimizer in optimizers.values():
                if not optimizer.built:
                    optimizer.build(model.trainable_variables)
            checkpoint = tf.train.Checkpoint(
                step=self.step,
                model_variables=list(model.variables),
                **{f"{name}_variables": list(optimizer.variables) for name, optimizer in optimizers.items()},
            )
            self._manager = tf.train.CheckpointManager(checkpoint, self.write_directory, max_to_keep=self.max_to_keep)
        return self._manager

    @property
    def latest(self):
        """The path of the latest checkpoint in the directory, or None."""
        return tf.train.latest_checkpoint(self.directory)

    def restore(self, model):
        """Restores the latest checkpoint into `model` (built, optimizers built) and returns its step.

        Returns 0 where there is no checkpoint. A checkpoint of another architecture is a
        `UserError` and leaves the checkpoint files untouched.
        """
        manager = self._checkpoint_manager(model)
        latest = self.latest
        if latest is None:
            return 0
        _restore_or_refuse(manager.checkpoint, latest)
        return int(self.step.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self.step.assign_add(1)
        if not _all_finite(logs):
            self.unsaved_failure = True
            return
        if self.every_n_steps and int(self.step.numpy()) % self.every_n_steps == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if not self.unsaved_failure and _all_finite(logs):
            self.save()

    def save(self):
        manager = self._checkpoint_manager(self.model)
        path = manager.save(checkpoint_number=int(self.step.numpy()))
        if self.write_directory != self.directory:
            shutil.rmtree(self.write_directory, ignore_errors=True)
            self._manager = None
        return path


def kept_checkpoints(directory):
    """`(step, path)` of each checkpoint kept in `directory` (see `TrainingCheckpoint`), oldest first."""
    state = tf.train.get_checkpoint_state(directory)
    paths = state.all_model_checkpoint_paths if state else []
    return [(int(path.rsplit("-", 1)[1]), path) for path in paths]


def restore_model_variables(model, path):
    """Restores only the model's variables of the checkpoint at `path` (not its optimizers' or
    step counter): e.g. an earlier step of a finished run into the model loaded from its
    `model.keras`, to score it there. A checkpoint of another architecture is a `UserError`."""
    _restore_or_refuse(tf.train.Checkpoint(model_variables=list(model.variables)), path, partial=True)


def _restore_or_refuse(checkpoint, path, partial=False):
    """`checkpoint.restore(path)` with every object of `checkpoint` matched, else a one-line
    `UserError`; `partial`: the file may hold more (no warning about what is left unread)."""
    try:
        status = checkpoint.restore(path)
        if partial:
            status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise UserError(f"checkpoint {path} does not fit this model: {first_line}") from None


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first step whose logs hold a NaN or infinite value.

    Unlike `keras.callbacks.TerminateOnNaN`, which reads only `loss`, this reads every
    figure a GAN reports (`d_loss`, `g_loss`, ...). `failure` holds the message afterwards.
    """

    def __init__(self):
        super().__init__()
        self.failure = None

    def on_train_batch_end(self, batch, logs=None):
        if self.failure is None and not _all_finite(logs):
            bad = sorted(name for name, value in (logs or {}).items() if not _finite(value))
            self.failure = f"non-finite {', '.join(bad)} at batch {batch}; training stopped"
            self.model.stop_training = True


def _finite(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def _all_finite(logs):
    return all(_finite(value) for value in (logs or {}).values())
