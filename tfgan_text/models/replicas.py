"""Where a replica's rows sit in the global batch under `tf.distribute`, and gathering them.

Models whose training step must equal one-device training on the same global batch (noise
drawn for the global batch, partners taken across replicas) use these two functions.
"""

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


def gather_replicas(values):
    """All replicas' `values` concatenated along the batch axis, replica 0 first."""
    context = tf.distribute.get_replica_context()
    return values if context is None else context.all_gather(values, axis=0)
