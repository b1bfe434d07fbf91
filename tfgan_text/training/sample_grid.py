"""A callback that writes a grid of samples for fixed captions and fixed noise every epoch."""

import os

import keras
import numpy as np
import tensorflow as tf

from tfgan_text.data import shapes
from tfgan_text.image_grid import image_grid, to_uint8
from tfgan_text.noise import image_seeds, seed_noise

SAMPLE_CAPTIONS = 16
STAGE_GRID_CAPTIONS_PER_ROW = 4


def sample_captions(data_name, source, seed):
    """Fixed captions for the per-epoch sample grid: shapes' canonical captions (of its `val`
    split) for the built-in data, else the first captions of the training `source`."""
    if data_name == "shapes":
        split = shapes.load_split("val", image_size=32, seed=seed, num_examples=SAMPLE_CAPTIONS)
        return [shapes.describe({name: split[name][i] for name in shapes.ATTRIBUTES}) for i in range(SAMPLE_CAPTIONS)]
    return [example["captions"][0].decode("utf-8") for example in source.take(SAMPLE_CAPTIONS).as_numpy_iterator()]


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, draws the same captions with the same noise and saves a PNG grid.

    For a model of several stages (AttnGAN's `stage_outputs`), a second grid,
    `samples_epoch_NNN_stages.png`, shows each caption's image at every stage side by side
    (earlier stages enlarged), so one can see what each stage adds.

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
        if hasattr(self.model, "stage_outputs"):
            self._write_stages(os.path.join(self.directory, f"samples_epoch_{epoch + 1:03d}_stages.png"))
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("samples", images, step=epoch + 1, max_outputs=len(images))
            self.writer.flush()

    def _write_stages(self, path):
        stages = self.model.stage_outputs(self.token_ids, self.noise)["images"]
        size = stages[-1].shape[1]
        enlarged = [to_uint8(keras.ops.convert_to_numpy(images)).repeat(size // images.shape[1], axis=1)
                    .repeat(size // images.shape[1], axis=2) for images in stages]
        cells = np.stack(enlarged, axis=1).reshape((-1, size, size, 3))  # caption-major, each caption's stages in turn
        labels = [f"stage {k + 1}: {caption}" for caption in self.captions for k in range(len(stages))]
        image_grid(cells, labels, columns=len(stages) * STAGE_GRID_CAPTIONS_PER_ROW).save(path)
