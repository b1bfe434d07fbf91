"""`fit` for every strategy: Keras' own, or a short loop where Keras cannot run multi-worker.

Batches lose their string features (the captions, already tokenized) first: no `train_step`
reads them, and Keras' `fit` under a strategy of several replicas averages the first batch
over the replicas to build the model, which strings cannot take.

Keras 3's `Model.fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585,
tensorflow/tensorflow#72388: it reduces the first batch and the step's logs with collective
ops that reject them). Under that strategy `fit` below runs the model's own `train_step` in
the loop `Model.fit` would run (distributed dataset, one `tf.function` step, the logs averaged
over all replicas, the same callbacks and progress bar); under every other strategy it is
`Model.fit`.
"""

import keras
import tensorflow as tf


def fit(model, dataset, *, epochs, steps_per_epoch, initial_epoch=0, callbacks=(), verbose="auto"):
    """Trains `model` on `dataset` like `model.fit(dataset, ...)` with the same arguments.

    Returns:
        The `keras.callbacks.History` of the run.
    """
    dataset = _without_strings(dataset)
    if not isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, initial_epoch=initial_epoch,
                         callbacks=list(callbacks), verbose=verbose)
    return _multi_worker_fit(model, dataset, epochs, steps_per_epoch, initial_epoch, list(callbacks), verbose)


def _without_strings(dataset):
    """`dataset` of dict batches without their `tf.string` features."""
    if not isinstance(dataset.element_spec, dict):
        return dataset
    kept = [key for key, spec in dataset.element_spec.items() if getattr(spec, "dtype", None) != tf.string]
    return dataset.map(lambda batch: {key: batch[key] for key in kept})


def _multi_worker_fit(model, dataset, epochs, steps_per_epoch, initial_epoch, callbacks, verbose):
    strategy = model.distribute_strategy
    verbose = 1 if verbose == "auto" else verbose
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    # As in `Model.fit`: only an XLA step is a function of its own (a nested `tf.function`
    # cannot hold the cross-replica updates of, e.g., batch norm's moving averages).
    train_step = tf.function(model.train_step, jit_compile=True) if model.jit_compile else model.train_step

    def replica_step(batch):
        logs = train_step(batch)
        return tf.distribute.get_replica_context().all_reduce("mean", logs)

    @tf.function
    def one_step(iterator):
        logs = strategy.run(replica_step, args=(next(iterator),))
        return {name: strategy.experimental_local_results(value)[0] for name, value in logs.items()}

    callback_list = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                                 verbose=verbose, epochs=epochs, steps=steps_per_epoch, model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            logs = {name: float(value) for name, value in one_step(batches).items()}
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        callback_list.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return model.history
