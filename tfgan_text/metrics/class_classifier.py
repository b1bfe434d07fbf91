"""A class classifier trained on real images of a labelled dataset, to judge generated images.

The Fashion-MNIST judge: a small CNN (3x3 convolutions, batch norm, ReLU, max pooling between
blocks, global average pooling) trained on the real `train` split; its softmax gives the class
accuracy of images generated from each class's captions and the Inception Score's p(y|x)
(Salimans et al. 2016), its penultimate layer the features of FID and KID (Heusel et al. 2017),
as Inception-v3 does for ImageNet-like data. It is trained once by `bench/train_judges.py` and
ships with the package (`tfgan_text.metrics.judges`).

Example:
    >>> classifier = ClassClassifier(num_classes=10, blocks=((8,), (16,)), image_size=32)
    >>> classifier(np.zeros([2, 32, 32, 3], "uint8")).shape  # (2, 10) probabilities
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfgan_text.errors import UserError
from tfgan_text.metrics.attribute_classifier import conv_trunk


@keras.saving.register_keras_serializable(package="tfgan_text")
class ClassClassifier(keras.Model):
    """Softmax over `num_classes` classes of RGB images.

    Input: images `[B, S, S, 3]`, uint8 (0..255, rescaled inside) or float in [-1, 1] (the
    generators' range). Output: probabilities `[B, num_classes]`.

    Args:
        num_classes: int.
        blocks: tuple of blocks, each a tuple of convolution widths.
        image_size: int, the only image side accepted.
        dropout: float, dropout before the last layer while training.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, num_classes=10, blocks=((32, 32), (64, 64), (128,)), image_size=32, dropout=0.3,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.blocks = tuple(tuple(block) for block in blocks)
        self.image_size = image_size
        self.dropout_rate = dropout
        self.trunk = conv_trunk(self.blocks, "trunk")
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.dropout = keras.layers.Dropout(dropout)
        self.head = keras.layers.Dense(num_classes, name="logits")

    def _check_size(self, shape):
        if tuple(shape[1:]) != (self.image_size, self.image_size, 3):
            raise UserError(f"this classifier takes {self.image_size}x{self.image_size} RGB images, "
                            f"got shape {tuple(shape[1:])}")

    def build(self, input_shape):
        self._check_size(input_shape)
        self.trunk.build(tuple(input_shape))
        self.head.build((None, self.blocks[-1][-1]))
        self.built = True

    def features(self, images, training=False):
        """`[B, D]`: the pooled features the last layer reads (FID and KID features)."""
        x = ops.convert_to_tensor(images)
        if not self.built:
            self.build(x.shape)
        x = ops.cast(x, self.compute_dtype) / 127.5 - 1.0 if x.dtype == "uint8" else ops.cast(x, self.compute_dtype)
        return self.pool(self.trunk(x, training=training))

    def probabilities(self, features, training=False):
        """`[B, num_classes]` from the output of `features`."""
        return ops.softmax(self.head(self.dropout(features, training=training)))

    def call(self, images, training=False):
        return self.probabilities(self.features(images, training), training)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "blocks": self.blocks, "image_size": self.image_size,
                       "dropout": self.dropout_rate})
        return config


def train_class_classifier(images, labels, num_classes, epochs=4, seed=0, batch_size=64, learning_rate=2e-3,
                           verbose=0):
    """Trains a `ClassClassifier` on uint8 images `[n, S, S, 3]` and int labels `[n]`.

    Adam with a cosine-decayed rate, sparse cross-entropy, random translations of up to 2 pixels
    (`keras.layers.RandomTranslation`, so a judge does not reward pixel-exact copies of one
    position). `seed` seeds the initial weights, the shuffling and the translations.

    Returns:
        the trained `ClassClassifier`.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4 or len(images) != len(labels) or not len(images):
        raise UserError(f"need images [n, S, S, 3] and n labels, got {images.shape} and {labels.shape}")
    keras.utils.set_random_seed(seed)
    size = images.shape[1]
    shift = 2.0 / size
    augment = keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed)
    classifier = ClassClassifier(num_classes=num_classes, image_size=size)
    steps = epochs * -(-len(images) // batch_size)
    classifier.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    dataset = (tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(len(images), seed=seed)
               .batch(batch_size).map(lambda x, y: (augment(tf.cast(x, tf.float32) / 127.5 - 1.0, training=True), y)))
    classifier.fit(dataset, epochs=epochs, verbose=verbose)
    return classifier
