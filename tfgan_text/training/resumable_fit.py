"""`fit` from a restored global step: the interrupted epoch first, then whole epochs."""

from tfgan_text.errors import UserError
from tfgan_text.training.multi_worker_fit import fit


def fit_from_step(model, pipeline, step, steps_per_epoch, epochs, checkpoint, stop, callbacks, verbose):
    """Continues training at global step `step` until `epochs` epochs are done.

    A run killed mid-epoch resumes at the batch after its last checkpoint: the rest of that
    epoch is one `fit` call, the remaining whole epochs another, so epoch numbers, callbacks
    and the data order are those of an uninterrupted run.

    Args:
        model: a compiled Keras model.
        pipeline: callable `step -> tf.data.Dataset` of the training batches after `step` batches.
        step: int, the global step restored from the checkpoint (0 for a new run).
        steps_per_epoch: int, batches per epoch.
        epochs: int, the epoch at which training ends.
        checkpoint: the run's `TrainingCheckpoint` (named in the error of a failed run).
        stop: the run's `StopOnNonFiniteLoss`.
        callbacks: list of Keras callbacks, `checkpoint` and `stop` among them.
        verbose: passed to `fit`.

    Raises:
        UserError: training hit a NaN or infinite value (the last good checkpoint is kept).
    """
    epoch, batch = divmod(step, steps_per_epoch)
    if batch:
        fit(model, pipeline(step), initial_epoch=epoch, epochs=epoch + 1,
            steps_per_epoch=steps_per_epoch - batch, callbacks=callbacks, verbose=verbose)
        epoch += 1
    if epoch < epochs and not stop.failure:
        fit(model, pipeline(epoch * steps_per_epoch), initial_epoch=epoch, epochs=epochs,
            steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose)
    if stop.failure:
        raise UserError(f"{stop.failure}; the last good checkpoint is {checkpoint.latest or 'none (no step was saved)'}")
