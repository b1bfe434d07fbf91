"""Image-to-text exports of a `Captioner`: encoded images in, captions out.

SavedModel signatures (TF Serving), each answering `captions: string[B]` and
`log_prob: float32[B]` (the model's log-probability of the caption's tokens, `<end>` included):
  `serving_default(image_bytes: string[B])`: beam search, its width fixed at export (3)
  `greedy(image_bytes: string[B])`: the most probable token at each step
  `sample(image_bytes: string[B], seeds: int64[B])`: tokens drawn from the model's distribution,
      row i from the stateless generator at `seeds[i]`, so the same image and seed give the same
      caption in every process

Images are decoded in the graph (core TF ops only, as TF Serving runs them): JPEG, PNG, GIF (the
first frame) or BMP, of any size; grayscale is repeated to RGB and alpha dropped, as
`tf.io.decode_image(..., channels=3)` does when training data is read; then resized with
antialiasing to the model's S x S, rounded to whole pixel values as training images were stored,
and scaled to [-1, 1] by `x / 127.5 - 1`. Bytes that are not such an image (or are cut short), and
an image of more than `MAX_PIXELS` pixels (read from its header, before anything is decoded), fail
the request with an `InvalidArgumentError` of one line. A GIF is cut after its first frame before
it is decoded (TensorFlow's decoder would read every frame into memory). Captions are detokenized in the graph
with the vocabulary as an asset (TF Text's `ops_lib`, which TF Serving links).

The ONNX graph (`saved_models/NAME/onnx/model.onnx`) is the greedy search on decoded images:
input `images: float32[B,S,S,3]` in [-1, 1], outputs `token_ids: int64[B, max_length - 1]`
(no `<start>`, `<end>` where produced, then 0) and `log_prob: float32[B]`; its `config.json`
carries the image size and the tokenizer's settings, `vocab.json` the tokens.
"""

import json
import os

import keras
import tensorflow as tf

from tfgan_text.errors import UserError
from tfgan_text.export.onnx import OPSET, convert_function, write_onnx_dir
from tfgan_text.file_names import CAPTIONER_CONFIG_FILE, EXTRA_DIR
from tfgan_text.text.tokenizer import Tokenizer

SIGNATURES = ("serving_default", "greedy", "sample")
BEAM_WIDTH = 3
LENGTH_NORMALIZATION = 0.0
# 10,000 x 10,000 is allowed (under a second and about 400 MB to decode on one CPU core); larger
# images, such as a PNG of 5 MB declaring 20,000 x 20,000 pixels (8 s and 1.2 GB unguarded) or one
# of 65,535 x 65,535 (13 GB), are refused from their header before anything is decoded.
MAX_PIXELS = 100_000_000
IMAGE_FORMATS = "JPEG, PNG, GIF or BMP"
ONNX_INPUT = "images"
ONNX_OUTPUTS = ("token_ids", "log_prob")

_HEADER_BYTES = 26


def image_size(model):
    """int S: the side of the square images a built `Captioner` was trained on."""
    shape = getattr(model, "image_shape", None)
    if not shape or len(shape) != 4 or shape[1] is None or shape[1] != shape[2]:
        raise UserError(f"the captioner was not built on square images (image shape {shape}); train it before exporting")
    return int(shape[1])


def _header_size(data):
    """int64 `(height, width)` of an encoded image read from its header; fails for other formats.

    JPEG through `tf.image.extract_jpeg_shape`; PNG (IHDR, big-endian), GIF (logical screen,
    little-endian) and BMP (info header, little-endian; a negative height is top-down) from fixed
    offsets. Bytes cut short before the header's end read as zeros: decoding fails on them later.
    """
    head = tf.io.decode_raw(tf.strings.substr(data, 0, _HEADER_BYTES), tf.uint8)
    head = tf.cast(tf.pad(head, [[0, _HEADER_BYTES - tf.shape(head)[0]]]), tf.int64)

    def big_endian(start, size):
        return tf.reduce_sum(head[start : start + size] * (256 ** tf.range(size - 1, -1, -1, dtype=tf.int64)))

    def little_endian(start, size):
        return tf.reduce_sum(head[start : start + size] * (256 ** tf.range(size, dtype=tf.int64)))

    def signed_32(value):
        return tf.where(value >= 2**31, value - 2**32, value)

    magic = tf.strings.substr(data, 0, 8)
    is_jpeg = tf.strings.substr(magic, 0, 3) == b"\xff\xd8\xff"
    is_png = tf.equal(magic, b"\x89PNG\r\n\x1a\n")
    is_gif = tf.strings.substr(magic, 0, 4) == b"GIF8"
    is_bmp = tf.strings.substr(magic, 0, 2) == b"BM"

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(data), tf.int64)
        return shape[0], shape[1]

    def other():
        known = tf.debugging.Assert(is_png | is_gif | is_bmp, [f"not a {IMAGE_FORMATS} image"])
        with tf.control_dependencies([known]):
            bmp_height, bmp_width = tf.abs(signed_32(little_endian(22, 4))), tf.abs(signed_32(little_endian(18, 4)))
            height = tf.where(is_png, big_endian(20, 4), tf.where(is_gif, little_endian(8, 2), bmp_height))
            width = tf.where(is_png, big_endian(16, 4), tf.where(is_gif, little_endian(6, 2), bmp_width))
        return height, width

    return tf.cond(is_jpeg, jpeg, other)


def _first_gif_frame(data):
    """`(bytes, height, width)`: a GIF cut after its first image (and closed by a trailer), and the
    size that image's descriptor declares.

    TensorFlow's GIF decoder reads every frame into memory (a byte a pixel) before it returns the
    first, so a file of two megabytes holding 500 frames of 2000 x 2000 would take 2 GB and half a
    minute. The blocks up to the end of the first image are walked: extensions and the image's
    data, sub-block by sub-block. Bytes that end before the first image does, or hold another
    block first, are left as they are (height and width 0), for the decoder to judge.
    """
    raw = tf.io.decode_raw(data, tf.uint8)
    zero = tf.constant(0, tf.int64)
    last = tf.maximum(tf.size(raw, out_type=tf.int64) - 1, zero)

    def at(index):
        return tf.cast(tf.gather(raw, tf.clip_by_value(tf.cast(index, tf.int64), zero, last)), tf.int64)

    def color_table(packed):
        return tf.where(packed >= 128, 3 * 2 ** (packed % 8 + 1), zero)

    def keep_going(position, mode, end, height, width):
        return (end < 0) & (position <= last)

    def step(position, mode, end, height, width):
        # mode 0: at a block; 1: in an extension's sub-blocks; 2: in the first image's sub-blocks.
        value = at(position)
        extension = (mode == 0) & (value == 0x21)
        image = (mode == 0) & (value == 0x2C)
        other = (mode == 0) & ~extension & ~image
        terminator = (mode > 0) & (value == 0)
        after_descriptor = position + 10 + color_table(at(position + 9)) + 1  # + the LZW code size byte
        position_next = tf.where(extension, position + 2, tf.where(image, after_descriptor, position + value + 1))
        mode_next = tf.where(extension, zero + 1, tf.where(image, zero + 2, tf.where(terminator, zero, mode)))
        end = tf.where(terminator & (mode == 2), position + 1, tf.where(other, zero, end))
        height = tf.where(image, at(position + 7) + 256 * at(position + 8), height)
        width = tf.where(image, at(position + 5) + 256 * at(position + 6), width)
        return position_next, mode_next, end, height, width

    start = 13 + color_table(at(10))  # the header, the logical screen and its global colour table
    _, _, end, height, width = tf.while_loop(keep_going, step, (start, zero, zero - 1, zero, zero))
    cut = tf.strings.join([tf.strings.substr(data, zero, tf.maximum(end, zero)), b";"])
    return tf.where(end > 0, cut, data), height, width


def decode_image(data, size, max_pixels=MAX_PIXELS):
    """float32 `[size, size, 3]` in [-1, 1] of one encoded image (string scalar), as training saw images.

    Fails with an `InvalidArgumentError` of one line for bytes that are not a JPEG, PNG, GIF or BMP
    image, for a cut-short or corrupt one, and for one of more than `max_pixels` pixels (the
    size in the header, and for a GIF also its first frame's, which is the one decoded).
    """
    height, width = _header_size(data)
    zero = tf.constant(0, tf.int64)
    is_gif = tf.strings.substr(data, 0, 4) == b"GIF8"
    data, frame_height, frame_width = tf.cond(is_gif, lambda: _first_gif_frame(data), lambda: (data, zero, zero))
    limit = tf.constant(max_pixels, tf.int64)
    message = "the image is {} x {} pixels, over the limit of {} pixels"
    checks = [
        tf.debugging.Assert(height * width <= limit, [tf.strings.format(message, (width, height, limit))]),
        tf.debugging.Assert(
            frame_height * frame_width <= limit, [tf.strings.format(message, (frame_width, frame_height, limit))]
        ),
    ]
    with tf.control_dependencies(checks):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.ensure_shape(image, [None, None, 3])
    image = tf.image.resize(image, [size, size], antialias=True)
    return tf.clip_by_value(tf.round(image), 0.0, 255.0) / 127.5 - 1.0


def decode_images(image_bytes, size, max_pixels=MAX_PIXELS):
    """float32 `[B, size, size, 3]` in [-1, 1] of encoded images (string `[B]`), one at a time.

    One at a time, so that a batch of large images holds one decoded image in memory at once.
    """
    return tf.map_fn(
        lambda data: decode_image(data, size, max_pixels),
        image_bytes,
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32),
        parallel_iterations=1,
    )


class CaptionFunctions:
    """The captioning functions of a `Captioner` and its vocabulary, from encoded or decoded images.

    Shared by the SavedModel export, the ONNX conversion and `tfgan-text caption` on a run
    directory, so that all of them decode and caption the same way.

    Args:
        model: a trained, built `Captioner`.
        vocabulary: a `Vocabulary`, or the directory of its `vocab.txt` and `tokenizer.json`.
        beam_width: int, the beam width of `beam`.
        max_pixels: int, the largest image (width x height) that is decoded.
    """

    def __init__(self, model, vocabulary, beam_width=BEAM_WIDTH, max_pixels=MAX_PIXELS):
        if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
            raise UserError(f"the beam width must be a positive integer, got {beam_width!r}")
        self.model = model
        self.tokenizer = Tokenizer(vocabulary)
        if len(self.tokenizer.vocabulary) != model.vocabulary_size:
            raise UserError(
                f"the vocabulary has {len(self.tokenizer.vocabulary)} tokens but the captioner scores "
                f"{model.vocabulary_size}: they are not from the same run"
            )
        self.image_size = image_size(model)
        self.beam_width = beam_width
        self.max_pixels = max_pixels

    def decode(self, image_bytes):
        """float32 `[B, S, S, 3]` in [-1, 1] of encoded images (string `[B]`)."""
        return decode_images(image_bytes, self.image_size, self.max_pixels)

    def features(self, images):
        return self.model.encode_images(images, training=False)

    def greedy_ids(self, images):
        """`(token_ids int64 [B, L], log_prob float32 [B])` of greedy search on decoded images."""
        from tfgan_text.models.image_to_text.decoding import greedy_search

        return greedy_search(self.model, self.features(images))

    def beam_ids(self, images):
        """`(token_ids, log_prob)` of beam search of width `beam_width` on decoded images."""
        from tfgan_text.models.image_to_text.decoding import beam_search

        return beam_search(
            self.model, self.features(images), beam_width=self.beam_width, length_normalization=LENGTH_NORMALIZATION
        )

    def sample_ids(self, images, seeds):
        """`(token_ids, log_prob)` of tokens drawn row by row from the stateless generator at `seeds` (int64 `[B]`)."""
        from tfgan_text.models.image_to_text.decoding import sample

        return sample(self.model, self.features(images), tf.cast(seeds, tf.int64))

    def outputs(self, token_ids, log_prob):
        """`{"captions": string [B], "log_prob": float32 [B]}` of decoded token ids."""
        return {"captions": self.tokenizer.detokenize(token_ids), "log_prob": log_prob}

    def beam(self, image_bytes):
        """`outputs` of beam search on encoded images (string `[B]`)."""
        return _unless_empty(image_bytes, lambda: self.outputs(*self.beam_ids(self.decode(image_bytes))))

    def greedy(self, image_bytes):
        """`outputs` of greedy search on encoded images (string `[B]`)."""
        return _unless_empty(image_bytes, lambda: self.outputs(*self.greedy_ids(self.decode(image_bytes))))

    def sample(self, image_bytes, seeds):
        """`outputs` of sampling on encoded images (string `[B]`), row i seeded by `seeds[i]` (int64 `[B]`)."""
        counts = tf.strings.format("give one seed per image: got {} images and {} seeds", (tf.size(image_bytes), tf.size(seeds)))
        with tf.control_dependencies([tf.debugging.Assert(tf.size(seeds) == tf.size(image_bytes), [counts])]):
            image_bytes = tf.identity(image_bytes)
        return _unless_empty(image_bytes, lambda: self.outputs(*self.sample_ids(self.decode(image_bytes), seeds)))

    def export_config(self):
        """The contents of `assets.extra/captioner.json`: what the signatures do, for clients."""
        return {
            "format_version": 1,
            "model": "captioner",
            "signatures": {"serving_default": "beam", "greedy": "greedy", "sample": "sample"},
            "beam_width": self.beam_width,
            "length_normalization": LENGTH_NORMALIZATION,
            "image_size": self.image_size,
            "max_length": self.model.max_length,
            "max_pixels": self.max_pixels,
            "image_formats": ["JPEG", "PNG", "GIF", "BMP"],
        }


def _unless_empty(image_bytes, caption):
    """`caption()`, or empty outputs for an empty batch (the image encoder's convolutions fail on
    a batch of 0)."""
    empty = {"captions": tf.zeros([0], tf.string), "log_prob": tf.zeros([0], tf.float32)}
    return tf.cond(tf.size(image_bytes) > 0, caption, lambda: empty)


def image_to_text_archive(functions):
    """A `keras.export.ExportArchive` of `functions` (a `CaptionFunctions`) with the three signatures."""
    # The variables the endpoints use are saved with them (tracking the model too would save
    # every weight twice); the tokenizer is tracked for its tables, with vocab.txt as an asset.
    archive = keras.export.ExportArchive()
    archive.track(functions.tokenizer)
    image_bytes = tf.TensorSpec([None], tf.string, name="image_bytes")
    archive.add_endpoint("serving_default", functions.beam, input_signature=[image_bytes])
    archive.add_endpoint("greedy", functions.greedy, input_signature=[image_bytes])
    archive.add_endpoint(
        "sample", functions.sample, input_signature=[image_bytes, tf.TensorSpec([None], tf.int64, name="seeds")]
    )
    return archive


def write_export_config(functions, directory):
    """Writes `captioner.json` (see `CaptionFunctions.export_config`) into `directory`: what a
    client needs to know of the export, beside the vocabulary."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, CAPTIONER_CONFIG_FILE), "w", encoding="utf-8", newline="\n") as file:
        json.dump(functions.export_config(), file, indent=2)
        file.write("\n")


def convert_greedy_to_onnx(functions, opset=OPSET):
    """The ONNX `ModelProto` of greedy search on decoded images (`images` in; `token_ids`, `log_prob` out).

    The decoding loop is a `tf.while_loop`, which tf2onnx turns into one ONNX `Loop`.
    """
    size = functions.image_size
    signature = (tf.TensorSpec([None, size, size, 3], tf.float32, name=ONNX_INPUT),)
    return convert_function(functions.greedy_ids, signature, ONNX_OUTPUTS, opset)


def onnx_config(functions, opset=OPSET):
    """The `config.json` of the ONNX graph, without the tokenizer settings `Vocabulary.save_json` adds."""
    return {
        "format_version": 1,
        "model": {
            "kind": "captioner",
            "decoding": "greedy",
            "inputs": {ONNX_INPUT: ["batch", functions.image_size, functions.image_size, 3]},
            "outputs": {"token_ids": ["batch", functions.model.max_length - 1], "log_prob": ["batch"]},
            "image_size": functions.image_size,
            "max_length": functions.model.max_length,
            "max_pixels": functions.max_pixels,
            "value_range": [-1.0, 1.0],
            "opset": opset,
        },
    }


def writers(model, run_dir, vocabulary, run_settings, beam_width=None):
    """`(write the SavedModel into a directory, write onnx/ into a model root)` of a `Captioner`
    of the run in `run_dir`; `serving_default`'s beam width is `beam_width` (default 3)."""
    functions = CaptionFunctions(model, run_dir, beam_width=BEAM_WIDTH if beam_width is None else beam_width)
    archive = image_to_text_archive(functions)

    def write(directory):
        archive.write_out(directory, verbose=False)
        write_export_config(functions, os.path.join(directory, EXTRA_DIR))

    def write_onnx(model_root):
        return write_onnx_dir(model_root, convert_greedy_to_onnx(functions), vocabulary, onnx_config(functions),
                              run_settings)

    return write, write_onnx
