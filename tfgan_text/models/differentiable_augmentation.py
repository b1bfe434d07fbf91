"""Differentiable translation of images, for what D and a frozen teacher see (DiffAugment).

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training" (NeurIPS),
augment every image a discriminator sees, real and generated, with the same family of
differentiable transforms, G's gradients flowing back through them, so that D cannot win by
memorising a small training set; translation is one of their three families (colour, which
shapes captions name, is not one to use here).
"""

import keras
import tensorflow as tf
from keras import ops


def random_shifts(count, max_shift, seed_generator):
    """int32 `[count, 2]` whole-pixel (row, column) shifts drawn uniformly in [-max_shift, max_shift]."""
    return keras.random.randint((count, 2), -max_shift, max_shift + 1, seed=seed_generator, dtype="int32")


def translate(images, shifts, max_shift):
    """Each image `[B, S, S, C]` moved by its own `shifts[b]` = (rows, columns) pixels, the border
    filled by reflection; differentiable in `images`.

    Args:
        images: float `[B, H, W, C]`.
        shifts: int `[B, 2]`, each entry in [-max_shift, max_shift]; positive moves down / right.
        max_shift: int, the largest |shift| (the reflection padding), smaller than H and W.
    """
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]], mode="REFLECT")
    starts = max_shift - ops.cast(shifts, "int32")
    rows = starts[:, :1] + ops.arange(height, dtype="int32")[None, :]
    columns = starts[:, 1:] + ops.arange(width, dtype="int32")[None, :]
    moved = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(moved, columns, axis=2, batch_dims=1)
