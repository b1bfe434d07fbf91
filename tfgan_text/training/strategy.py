"""Choosing the `tf.distribute` strategy a run trains under."""

import tensorflow as tf

from tfgan_text.errors import UserError

STRATEGIES = ("auto", "mirrored", "one_device", "multi_worker")


def select_strategy(name="auto"):
    """Returns the strategy named by `--strategy`.

    Args:
        name: str, one of `STRATEGIES`. `auto` is `MirroredStrategy` over all GPUs when there
            are several, else the default strategy (one device); `mirrored` mirrors over all
            GPUs, or over all logical CPU devices when there is no GPU; `one_device` is the
            default strategy; `multi_worker` is `MultiWorkerMirroredStrategy` configured by
            the `TF_CONFIG` environment variable.
    """
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy([device.name for device in gpus])
    return tf.distribute.get_strategy()
