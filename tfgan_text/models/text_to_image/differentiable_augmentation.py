"""Differentiable translation and cutout of images, for what D and a frozen teacher see (DiffAugment).

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training" (NeurIPS),
augment every image a discriminator sees, real and generated, with the same family of
differentiable transforms, G's gradients flowing back through them, so that D cannot win by
memorising a small training set; translation and cutout are two of their three families
(colour, which shapes captions name, is not one to use here).
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


def random_centres(count, size, seed_generator):
    """int32 `[count, 2]` (row, column) pixel positions drawn uniformly in [0, size)."""
    return keras.random.randint((count, 2), 0, size, seed=seed_generator, dtype="int32")


def cut_out(images, centres, cutout_size):
    """Each image `[B, S, S, C]` with a `cutout_size` x `cutout_size` square around its own
    `centres[b]` set to 0 (grey in [-1, 1]); the square is clipped at the border. Differentiable
    in `images` (zero gradient under the square).

    Args:
        images: float `[B, H, W, C]`.
        centres: int `[B, 2]`, (row, column) of each square's centre pixel.
        cutout_size: int, the square's side; it covers rows [centre - size // 2, centre - size // 2 + size).
    """
    first = ops.cast(centres, "int32") - cutout_size // 2
    rows = ops.arange(images.shape[1], dtype="int32")[None, :] - first[:, :1]
    columns = ops.arange(images.shape[2], dtype="int32")[None, :] - first[:, 1:]
    inside_rows = ops.logical_and(rows >= 0, rows < cutout_size)
    inside_columns = ops.logical_and(columns >= 0, columns < cutout_size)
    inside = ops.logical_and(inside_rows[:, :, None], inside_columns[:, None, :])
    return images * ops.cast(ops.logical_not(inside), images.dtype)[:, :, :, None]
