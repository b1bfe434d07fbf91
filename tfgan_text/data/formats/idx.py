"""IDX files of the MNIST family (LeCun et al. 1998; Fashion-MNIST, Xiao et al. 2017).

Layout: `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-images-...`,
`t10k-labels-...` in one folder (a prefix such as `emnist-letters-` and `.idx3-ubyte` are
accepted). Grayscale images become RGB; captions are templates filled with the class name
("a photo of a sneaker", "a sneaker", "an image of a sneaker, grayscale", ...), one caption
per template. Class names: `class_names=` ("mnist", "fashion-mnist" or a list), default
Fashion-MNIST's when the path names "fashion", MNIST's digits when it names "mnist".

Splits: "test" is the t10k files; "val" is the last `val_fraction` of the train files (as
Keras's `validation_split` takes it) and "train" the rest; `val_fraction=0` gives no "val".

Example:
    read("/usr/share/datasets/fashion-mnist", split="val", image_size=32)
"""

import gzip
import os
import re
import struct
import zlib

import numpy as np
import tensorflow as tf

from tfgan_text.data.formats import records
from tfgan_text.errors import DataError, UserError

LOOKS_FOR = "train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz]"
_NAME = re.compile(r"^(?:.*-)?(train|t10k)-(images|labels)[.-]idx[13]-ubyte(?:\.gz)?$")
CLASS_NAMES = {
    "mnist": tuple(
        f"handwritten digit {digit}"
        for digit in ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    ),
    "fashion-mnist": (
        "t-shirt", "pair of trousers", "pullover", "dress", "coat",
        "sandal", "shirt", "sneaker", "bag", "ankle boot",
    ),
}
TEMPLATES = (
    "a photo of {a} {name}",
    "{a} {name}",
    "an image of {a} {name}, grayscale",
    "a black and white photo of {a} {name}",
    "a small picture of {a} {name}",
)


def _files(path):
    """`{(part, kind): file path}` of the IDX files in the folder `path`."""
    files = {}
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            match = _NAME.match(name)
            if match:
                files.setdefault((match[1], match[2]), os.path.join(path, name))
    return files


def matches(path):
    """Whether `path` holds IDX image files."""
    return any(kind == "images" for _, kind in _files(path))


def captions_for(class_name):
    """The templated captions of one class name."""
    article = "an" if class_name[0].lower() in "aeiou" else "a"
    return [template.format(a=article, name=class_name) for template in TEMPLATES]


def read(path, split="train", image_size=64, on_error="raise", class_names=None, val_fraction=0.1):
    """IDX data at `path` as a dataset (see `tfgan_text.data.formats.read`).

    `on_error` is accepted for a common signature: a bad IDX file spoils all its examples and
    is always a `DataError`.

    Args:
        class_names: "mnist", "fashion-mnist" or a list of str; default told from the path.
        val_fraction: float in [0, 1), the share of the train files held out as "val".
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    files = _files(path)
    parts = {part for part, kind in files if kind == "images"}
    if not parts:
        raise DataError(f"{path}: no IDX image files (looked for {LOOKS_FOR})")
    available = set()
    if "train" in parts:
        available |= {"train", "val"} if val_fraction > 0 else {"train"}
    if "t10k" in parts:
        available.add("test")
    records.check_split(split, available, path)
    names = resolve_class_names(path, class_names)

    part = "t10k" if split == "test" else "train"
    if (part, "labels") not in files:
        raise DataError(f"{path}: no {part}-labels-idx1-ubyte[.gz] beside {os.path.basename(files[part, 'images'])}")
    images = _load(files[part, "images"], 3)
    labels = _load(files[part, "labels"], 1)
    if len(labels) != len(images):
        raise DataError(f"{files[part, 'labels']}: {len(labels)} labels for {len(images)} images")
    if labels.size and labels.max() >= len(names):
        raise DataError(f"{files[part, 'labels']}: label {labels.max()} but only {len(names)} class names")
    if part == "train":
        held_out = int(round(len(images) * val_fraction))
        keep = slice(len(images) - held_out, None) if split == "val" else slice(0, len(images) - held_out)
        images, labels = images[keep], labels[keep]

    table = tf.constant([captions_for(name) for name in names])

    def convert(example):
        image = tf.image.resize(example["image"][..., None], [image_size, image_size], antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
        return {
            "image": tf.image.grayscale_to_rgb(image),
            "captions": tf.gather(table, example["label"]),
            "label": example["label"],
        }

    dataset = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels.astype(np.int32)})
    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def resolve_class_names(path, class_names=None):
    """The class names asked for, or told from the path."""
    if class_names is None:
        lowered = os.path.abspath(path).lower()
        if "fashion" in lowered:
            class_names = "fashion-mnist"
        elif "mnist" in lowered:
            class_names = "mnist"
        else:
            raise UserError(f"cannot tell the classes of {path}; pass class_names='mnist', 'fashion-mnist' or a list")
    if isinstance(class_names, str):
        if class_names not in CLASS_NAMES:
            raise UserError(f"class_names must be one of {', '.join(CLASS_NAMES)} or a list, got {class_names!r}")
        return CLASS_NAMES[class_names]
    if not class_names or not all(isinstance(name, str) and name for name in class_names):
        raise UserError("class_names must be a non-empty list of non-empty strings")
    return tuple(class_names)


def _load(path, dimensions):
    """The uint8 array of an IDX file with `dimensions` dimensions."""
    try:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as file:
            data = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    header = 4 + 4 * dimensions
    if len(data) < header or data[:3] != b"\x00\x00\x08" or data[3] != dimensions:
        raise DataError(f"{path}: not an IDX file of unsigned bytes with {dimensions} dimension(s)")
    shape = struct.unpack(f">{dimensions}I", data[4:header])
    if len(data) - header != int(np.prod(shape)):
        raise DataError(f"{path}: {len(data) - header} bytes of data where the header says {shape} (truncated?)")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)
