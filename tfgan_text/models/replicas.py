"""Where a replica's rows sit in the global batch under `tf.distribute`, and gathering them.

Models whose training step must equal one-device training on the same global batch (noise
drawn for the global batch, partners taken across replicas) use these two functions.
"""

import keras
import tensorflow as tf
from keras import ops


def replica_position(local_size):
    """`(offset, global_size)`: where this replica's rows sit in the global batch.

    Under a `tf.distribute` strategy each replica gets consecutive rows of the global batch,
    replica 0 first; sizes may be uneven (the last batch of an epoch). Outside a strategy the
    offset is 0 and the global batch is the local one.
    """
    local_size = ops.reshape(ops.convert_to_tensor(local_size, "int32"), (1,))
    context = tf.distribute.get_replica_context()
    if context is None:
        return 0, local_size[0]
    sizes = context.all_gather(local_size, axis=0)
    return ops.sum(sizes[: context.replica_id_in_sync_group]), ops.sum(sizes)


def replica_normal(seed_generator, local_size, dim):
    """This replica's rows of N(0, 1) values `[local_size, dim]` drawn for the global batch.

    Every replica draws the same `[global_size, dim]` sample (same seed state) and keeps its
    own rows, so each example gets what one-device training gives it.
    """
    offset, global_size = replica_position(local_size)
    values = keras.random.normal((global_size, dim), seed=seed_generator)
    return values[offset : offset + local_size]


def gather_replicas(values):
    """All replicas' `values` concatenated along the batch axis, replica 0 first."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return values
    # A fresh op, placed on this replica's device: the output of a `tf.cond` has no device,
    # and `MultiWorkerMirroredStrategy` cannot gather a tensor without one.
    return context.all_gather(tf.identity(values), axis=0)
