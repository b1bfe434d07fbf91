"""What the readers share: file reading with clear errors, and checked records -> `tf.data`.

A reader lists `Example`s (image path, captions, optional class label and crop box) and hands
bad data to an `Issues` collector. `build` decode-checks every image in a thread pool, so a
corrupt, truncated or missing file is a one-line `DataError` when `read(...)` is called, never
an error at iteration time, then decodes inside `tf.data`.
"""

import concurrent.futures
import dataclasses
import json
import warnings

import tensorflow as tf
from PIL import Image

from tfgan_text.errors import DataError, UserError

SPLITS = ("train", "val", "test")
ON_ERROR = ("raise", "skip")
# The formats `tf.io.decode_image` decodes, as PIL names them.
DECODABLE = ("JPEG", "PNG", "GIF", "BMP")


@dataclasses.dataclass
class Example:
    """One image and its captions, as a reader found them.

    Args:
        image: str, path of the image file.
        captions: list of str, the image's captions (at least one).
        label: int or None, class index where the dataset has classes.
        box: (top, left, bottom, right) pixels to crop to, clipped to the image; None: no crop.
        where: str, where the example is listed ("captions.jsonl:3"), named in messages.
    """

    image: str
    captions: list
    label: int | None = None
    box: tuple | None = None
    where: str = ""


class Issues:
    """Bad data found while reading: raised at once (`"raise"`) or counted and dropped (`"skip"`)."""

    def __init__(self, on_error):
        if on_error not in ON_ERROR:
            raise UserError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
        self.on_error = on_error
        self.messages = []

    def report(self, message):
        """Raise `message` as a `DataError`, or keep it when skipping."""
        message = " ".join(str(message).split())
        if self.on_error == "raise":
            raise DataError(message)
        self.messages.append(message)

    def warn(self, source):
        """One warning line for everything skipped in `source`."""
        if self.messages:
            warnings.warn(
                f"{source}: skipped {len(self.messages)} bad entries; first: {self.messages[0]}",
                stacklevel=5,
            )


def check_split(split, available, source):
    """`split` if `available` has it, else a `UserError` naming the splits there are."""
    if split not in available:
        have = ", ".join(name for name in SPLITS if name in available) or "none"
        raise UserError(f"{source} has no split {split!r}; it has: {have}")
    return split


def text_lines(path, issues=None):
    """`(line number, text)` of each non-blank line of a UTF-8 text file.

    A line that is not UTF-8 raises a `DataError` naming the file and line, or, given `issues`,
    is reported there and left out.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    lines = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            text = raw.decode("utf-8").lstrip("\ufeff").strip()
        except UnicodeDecodeError:
            message = f"{path}:{number}: not UTF-8 text"
            if issues is None:
                raise DataError(message) from None
            issues.report(message)
            continue
        if text:
            lines.append((number, text))
    return lines


def load_json(path):
    """The parsed JSON file at `path`; a `DataError` naming the line if it is not JSON."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}: not JSON ({error.msg}, column {error.colno})") from None


def file_head(path, size=65536):
    """The first `size` bytes of a file, for telling layouts apart cheaply; b"" if unreadable."""
    try:
        with open(path, "rb") as file:
            return file.read(size)
    except OSError:
        return b""


def _decode_check(path):
    """`((width, height), None)` for a fully decodable image file, else `(None, reason)`."""
    try:
        with Image.open(path) as image:
            if image.format not in DECODABLE:
                return None, f"{image.format} image; tf.io.decode_image reads {', '.join(DECODABLE)}"
            size = image.size
            # Decoding at 1/8 scale still reads the whole file, so truncation shows, faster.
            image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            image.load()
        return size, None
    except FileNotFoundError:
        return None, "no such image file"
    except Exception as error:  # PIL raises many types for bad files; each is a bad image.
        return None, f"cannot decode image ({str(error) or type(error).__name__})"


def _clip(box, width, height):
    """`box` (top, left, bottom, right) clipped to a `width` x `height` image; None if empty."""
    top, left, bottom, right = box
    top, left = max(0, int(top)), max(0, int(left))
    bottom, right = min(height, int(bottom)), min(width, int(right))
    return (top, left, bottom, right) if bottom > top and right > left else None


def build(examples, issues, image_size, source):
    """Check every image of `examples`, then return the dataset of dicts.

    Args:
        examples: list of `Example`.
        issues: `Issues` that earlier problems went to; bad images go there too.
        image_size: int S, the side of the square images.
        source: str, the dataset path named in the skip warning.

    Returns:
        `tf.data.Dataset` of `{"image": uint8 [S, S, 3], "captions": string [N],
        "label": int32 []}` (`label` where every example has one).
    """
    pool = concurrent.futures.ThreadPoolExecutor()
    try:
        checks = pool.map(_decode_check, [example.image for example in examples])
        kept, boxes = [], []
        for example, (size, problem) in zip(examples, checks):
            where = f" (listed at {example.where})" if example.where else ""
            if problem:
                issues.report(f"{example.image}: {problem}{where}")
                continue
            box = (0, 0, size[1], size[0])
            if example.box is not None:
                box = _clip(example.box, *size)
                if box is None:
                    issues.report(f"{example.image}: crop box {example.box} lies outside the image{where}")
                    continue
            kept.append(example)
            boxes.append(box)
    finally:
        pool.shutdown(cancel_futures=True)
    issues.warn(source)
    if not kept:
        raise DataError(f"{source}: no usable examples")

    flat = [caption for example in kept for caption in example.captions]
    lengths = [len(example.captions) for example in kept]
    columns = {
        "path": tf.constant([example.image for example in kept]),
        "captions": tf.RaggedTensor.from_row_lengths(tf.constant(flat, tf.string), lengths),
    }
    if any(example.box is not None for example in kept):
        columns["box"] = tf.constant(boxes, tf.int32)
    if all(example.label is not None for example in kept):
        columns["label"] = tf.constant([example.label for example in kept], tf.int32)

    def load(record):
        image = tf.io.decode_image(tf.io.read_file(record.pop("path")), channels=3, expand_animations=False)
        if "box" in record:
            top, left, bottom, right = tf.unstack(record.pop("box"))
            image = image[top:bottom, left:right]
        image = tf.image.resize(image, [image_size, image_size], antialias=True)
        record["image"] = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
        record["captions"] = tf.convert_to_tensor(record["captions"])
        return record

    dataset = tf.data.Dataset.from_tensor_slices(columns)
    return dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
