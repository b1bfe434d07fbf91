"""Readers of real dataset layouts: each turns a dataset on disk into a `tf.data.Dataset`.

Every element is `{"image": uint8 [S, S, 3], "captions": string [N], "label": int32 []}`:
the image decoded, in RGB and resized to S x S; N captions (N may vary by example); `label`
where the dataset has classes. Everything is checked when `read` is called: bad data ends in a
one-line `DataError` naming the file (and line), or with `on_error="skip"` is dropped and
counted in one warning. Reading never writes to the dataset's folder.

Example:
    from tfgan_text.data import formats
    dataset = formats.read("/usr/share/datasets/fashion-mnist", split="test", image_size=32)
    formats.detect("data/birds")  # "cub"
"""

import inspect
import os

from tfgan_text.data.formats import coco, cub, flickr8k, folder, idx, karpathy, oxford102
from tfgan_text.errors import DataError, UserError

# Name -> reader module, in the order `detect` tries them.
FORMATS = {
    "folder": folder,
    "cub": cub,
    "oxford102": oxford102,
    "flickr8k": flickr8k,
    "karpathy": karpathy,
    "coco": coco,
    "idx": idx,
}


def detect(path):
    """The name of the format of the dataset at `path`, told from the files present."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or directory")
    for name, reader in FORMATS.items():
        if reader.matches(path):
            return name
    looked = "; ".join(f"{reader.LOOKS_FOR} ({name})" for name, reader in FORMATS.items())
    raise DataError(f"{path}: unknown dataset layout; looked for {looked}")


def read(path, format="auto", split="train", image_size=64, on_error="raise", **options):
    """The dataset at `path` as a `tf.data.Dataset` of dicts (see the module docstring).

    Args:
        path: str or path-like, the dataset's folder (or its one captions file, where the
            format has one).
        format: str, a name in `FORMATS`, or "auto" to detect it.
        split: str, "train", "val" or "test", where the dataset has it.
        image_size: int S, the side of the square images.
        on_error: str, "raise" (the first bad entry is a `DataError`) or "skip" (bad entries
            are dropped and counted in one warning).
        **options: options of the format's reader, e.g. `crop_to_bbox=True` for "cub".

    Returns:
        `tf.data.Dataset`.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or directory")
    if format == "auto":
        format = detect(path)
    if format not in FORMATS:
        raise UserError(f"unknown format {format!r}; formats: auto, {', '.join(FORMATS)}")
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size <= 0:
        raise UserError(f"image_size must be a positive integer, got {image_size!r}")
    if on_error not in ("raise", "skip"):
        raise UserError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    reader = FORMATS[format].read
    common = ("path", "split", "image_size", "on_error")
    known = [name for name in inspect.signature(reader).parameters if name not in common]
    for option in options:
        if option not in known:
            raise UserError(f"format {format!r} has no option {option!r}; its options: {', '.join(known) or 'none'}")
    return reader(path, split=split, image_size=image_size, on_error=on_error, **options)
