"""A callback that writes a grid of samples for fixed captions and fixed noise every epoch."""

import os

import keras
import tensorflow as tf

from tfgan_text.image_grid import image_grid, to_uint8
from tfgan_text.noise import image_seeds, seed_noise


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, draws the same captions with the same noise and saves a PNG grid.

    Fixed captions and noise make the grids of successive epochs comparable: one can watch
    the model learn each caption. The grid is also logged as a TensorBoard image.

    Args:
        directory: str, where `samples_epoch_NNN.png` files go.
        captions: list of str, the captions drawn (each written under its image).
        tokenizer: callable mapping string captions `[B]` to token ids `[B, T]`.
        noise_dim: int, the generator's noise size.
        seed: int, the first image's seed of the fixed noise (`tfgan_text.noise`: image i has
            seed `seed + i`).
        log_dir: optional str, TensorBoard log directory for the image summary.

    Example:
        >>> grid = SampleGrid("runs/a/samples", ["a red circle", "a blue star"], tokenizer, 100)
        >>> model.fit(dataset, epochs=5, steps_per_epoch=100, callbacks=[grid])
    """

    def __init__(self, directory, captions, tokenizer, noise_dim, seed=0, log_dir=None):
        super().__init__()
        self.directory = directory
        self.captions = list(captions)
        self.token_ids = tokenizer(tf.constant(self.captions))
        self.noise = seed_noise(image_seeds(seed, len(self.captions)), noise_dim)
        self.writer = tf.summary.create_file_writer(log_dir) if log_dir else None
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        images = to_uint8(keras.ops.convert_to_numpy(self.model.generate(self.token_ids, noise=self.noise)))
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"samples_epoch_{epoch + 1:03d}.png")
        image_grid(images, self.captions).save(path)
        self.last_path = path
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("samples", images, step=epoch + 1, max_outputs=len(images))
            self.writer.flush()
