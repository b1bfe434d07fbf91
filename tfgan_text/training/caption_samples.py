"""A callback that captions the same images after every epoch and saves them as a grid."""

import os

import keras
import numpy as np
import tensorflow as tf

from tfgan_text.image_grid import image_grid


class CaptionSamples(keras.callbacks.Callback):
    """After each epoch, greedy captions of fixed images: a PNG grid and a text file.

    Fixed images make successive epochs comparable. The text file has one line per image,
    `generated<TAB>a reference caption`; the captions are also logged to TensorBoard as text.

    Args:
        directory: str, where `captions_epoch_NNN.png` and `.txt` go.
        images: uint8 array `[N, S, S, 3]`.
        references: list of N str, a true caption of each image (written in the text file).
        tokenizer: `tfgan_text.text.tokenizer.Tokenizer` of the run (to detokenize).
        captioner: callable returning the `Captioner` to use (default: the trained model
            itself; an adversarial model passes `lambda: model.captioner`).
        log_dir: optional str, TensorBoard log directory.
    """

    def __init__(self, directory, images, references, tokenizer, captioner=None, log_dir=None):
        super().__init__()
        self.directory = directory
        self.images = np.asarray(images, np.uint8)
        self.references = list(references)
        self.tokenizer = tokenizer
        self.captioner = captioner
        self.writer = tf.summary.create_file_writer(log_dir) if log_dir else None
        self.last_captions = None

    def on_epoch_end(self, epoch, logs=None):
        from tfgan_text.models.image_to_text.decoding import greedy_search

        captioner = self.captioner() if self.captioner else self.model
        features = captioner.encode_images(tf.cast(self.images, tf.float32) / 127.5 - 1.0)
        token_ids, _ = greedy_search(captioner, features)
        captions = [c.decode("utf-8") for c in keras.ops.convert_to_numpy(self.tokenizer.detokenize(token_ids))]
        os.makedirs(self.directory, exist_ok=True)
        stem = os.path.join(self.directory, f"captions_epoch_{epoch + 1:03d}")
        image_grid(self.images, captions).save(stem + ".png")
        with open(stem + ".txt", "w", encoding="utf-8") as file:
            file.writelines(f"{caption}\t{reference}\n" for caption, reference in zip(captions, self.references))
        self.last_captions = captions
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.text("captions", tf.constant(captions), step=epoch + 1)
            self.writer.flush()
