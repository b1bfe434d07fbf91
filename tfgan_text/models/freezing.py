"""Setting whether a network trains, so that the setting reaches every one of its weights."""


def set_trainable(layer, trainable):
    """`layer.trainable = trainable`, for the layer, its sublayers and all their weights.

    Keras skips the assignment when `layer.trainable` already holds the value (its attribute
    tracking short-circuits `x.a = x.a`). A deserialized network comes back with its own flag
    from its config while its sublayers and weights still say trainable, so a plain
    `layer.trainable = False` would leave every weight trainable: flip the flag first.
    """
    layer.trainable = not trainable
    layer.trainable = trainable
