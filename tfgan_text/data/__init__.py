"""Datasets as `tf.data` pipelines: the built-in captioned shapes and readers of real layouts.

Every source gives elements `{"image": uint8 [S, S, 3], "captions": string [N], ...}`;
`pipeline.training_pipeline` turns them into GAN-CLS training batches.
"""

import os

from tfgan_text.errors import UserError

BUILTIN_SOURCES = ("shapes",)


def load(source="shapes", split="train", image_size=64, format="auto", seed=0, **options):
    """Loads a dataset as a `tf.data.Dataset` of dicts.

    Args:
        source: str, `"shapes"` (the built-in captioned-shapes dataset) or a path to a dataset
            in one of the layouts of `tfgan_text.data.formats`.
        split: str, `"train"`, `"val"`, `"test"` (and `"compositional"` for shapes).
        image_size: int, side S of the square images returned.
        format: str, `"auto"` or a format name of `tfgan_text.data.formats.FORMATS`.
        seed: int, the seed of the shapes dataset (ignored by readers of files).
        **options: passed to the shapes generator or to the format reader
            (e.g. `num_examples=`, `on_error="skip"`, `crop_to_bbox=True`).

    Returns:
        `tf.data.Dataset` with elements `image` uint8 `[S, S, 3]`, `captions` string `[N]`,
        optional `label` int32, and for shapes `attributes` (dict of int32 `[2]`).

    Example:
        >>> ds = tfgan_text.data.load("shapes", split="test", image_size=32, num_examples=8)
    """
    if source in BUILTIN_SOURCES:
        if format not in ("auto", "shapes"):
            raise UserError(f"format {format!r} does not apply to the built-in dataset {source!r}")
        from tfgan_text.data import shapes

        return shapes.dataset(split=split, image_size=image_size, seed=seed, **options)
    if not isinstance(source, (str, os.PathLike)):
        raise UserError(f"dataset source must be 'shapes' or a path, got {source!r}")
    from tfgan_text.data import formats

    return formats.read(os.fspath(source), format=format, split=split, image_size=image_size, **options)


def all_captions(dataset):
    """Every caption of a dataset of `load`, as a list of str (read in large batches: one
    element at a time is slow)."""
    import tensorflow as tf

    batches = dataset.map(lambda example: example["captions"]).ragged_batch(4096)
    flat = (tf.reshape(batch.flat_values if isinstance(batch, tf.RaggedTensor) else batch, [-1]) for batch in batches)
    return [caption.decode("utf-8") for values in flat for caption in values.numpy()]
