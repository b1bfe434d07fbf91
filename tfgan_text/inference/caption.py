"""Captions for image files with a trained captioner: the work behind `tfgan-text caption`.

    tfgan-text caption [--model saved_models/NAME | RUN_DIR] IMAGE... [--beam N | --greedy | --sample [--seed N]]

Output: for each image, in the order given, either one line `PATH<TAB>caption` on stdout (the
caption may be empty, when the model ends it at once; captions hold no tabs or newlines), or
one line `tfgan-text: error: PATH: reason` on stderr (a missing path, a file that is not a
JPEG, PNG, GIF or BMP image, a cut-short or corrupt one, one over 100,000,000 pixels); the exit
status is 2 when any image failed, 0 otherwise (and 2, with one error line and no output, when
the model or the options cannot be used). Nothing else reaches stderr: TensorFlow's start-up
notes and libjpeg's notes on corrupt files are held back. Images are decoded, converted to RGB
and resized exactly as the exported SavedModel does it (`tfgan_text.export.image_to_text`).

The model is a run directory (`model.keras` and its vocabulary) or an exported model
`saved_models/NAME/` (its highest version), by default the shipped demo
`saved_models/shapes_captioner`. Beam search (the default, width 3), greedy search or seeded
sampling: a SavedModel's beam width is fixed when it is exported, so `--beam N` with another
width is refused in one line naming the exported width (caption with the run directory for any
width). `--sample --seed N` seeds every image with N: the same image and seed give the same
caption.
"""

import contextlib
import json
import os
import sys
import tempfile

from tfgan_text.errors import UserError
from tfgan_text.export import quiet_tensorflow
from tfgan_text.export.versions import latest_version_dir
from tfgan_text.file_names import CAPTIONER_CONFIG_FILE, EXTRA_DIR, MODEL_FILE
from tfgan_text.inference.generate import resolve_model_dir

DEMO_MODEL = os.path.join("saved_models", "shapes_captioner")
METHODS = ("beam", "greedy", "sample")
BATCH_SIZE = 16
SIGNATURE_OF = {"beam": "serving_default", "greedy": "greedy", "sample": "sample"}


def caption_images(paths, model=None, method="beam", beam_width=None, seed=0):
    """Yields `(path, caption, None)` or `(path, None, error line)` for each of `paths`, in order.

    Args:
        paths: list of str, image files.
        model: str or None, a run directory or `saved_models/NAME`; None for the shipped demo.
        method: "beam", "greedy" or "sample".
        beam_width: int or None (the exported width of a SavedModel; 3 for a run directory).
        seed: int, the seed of every image with `method="sample"`.

    Raises `UserError` (at the first step, before any image is read) when the model cannot be
    used as asked.
    """
    if method not in METHODS:
        raise UserError(f"unknown decoding {method!r}: choose one of {', '.join(METHODS)}")
    if not paths:
        raise UserError("give at least one image")
    model_dir = resolve_model_dir(model, demo=DEMO_MODEL)
    _import_tensorflow()
    captioner = load_captioner(model_dir, method, beam_width)
    for start in range(0, len(paths), BATCH_SIZE):
        yield from _caption_batch(captioner, [_read(path) for path in paths[start : start + BATCH_SIZE]], seed)


def _read(path):
    """`(path, bytes, None)`, or `(path, None, error line)` when the file cannot be read."""
    try:
        with open(path, "rb") as file:
            return path, file.read(), None
    except OSError as error:
        return path, None, f"{path}: {error.strerror or error}"


def _caption_batch(captioner, items, seed):
    """Results of `items` (path, bytes or None, error) in order: the readable ones captioned in one
    call, or one call per image when a bad image is among them."""
    import tensorflow as tf

    from tfgan_text.serving.signature import op_error_line

    readable = [(path, data) for path, data, _ in items if data is not None]
    try:
        captions = iter(captioner([data for _, data in readable], seed) if readable else [])
    except tf.errors.InvalidArgumentError as error:
        if len(items) == 1:
            return [(items[0][0], None, f"{items[0][0]}: {_reason(op_error_line(error.message))}")]
        return [result for item in items for result in _caption_batch(captioner, [item], seed)]
    return [(path, None, error) if data is None else (path, next(captions), None) for path, data, error in items]


def _reason(line):
    """A user's wording of the in-graph decoder's errors."""
    if line.startswith(("Invalid JPEG data", "Invalid PNG data", "Invalid GIF data", "Incomplete bmp", "Invalid BMP")):
        return f"a corrupt or cut-short image ({line})"
    return line


def load_captioner(model_dir, method="beam", beam_width=None):
    """A callable `(list of image bytes, seed) -> list of str captions` of the model in `model_dir`."""
    import tensorflow as tf

    if beam_width is not None and method != "beam":
        raise UserError("--beam goes with beam search, not with --greedy or --sample")
    if os.path.isfile(os.path.join(model_dir, MODEL_FILE)):
        return _keras_captioner(model_dir, method, beam_width)
    version_dir = latest_version_dir(model_dir)
    with quiet_tensorflow():
        try:
            loaded = tf.saved_model.load(version_dir)
        except (OSError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"{version_dir} is not a readable SavedModel: {first}") from None
    signatures = loaded.signatures
    default = signatures.get("serving_default")
    if default is None or "image_bytes" not in default.structured_input_signature[1] or "sample" not in signatures:
        raise UserError(f"{version_dir} is not an exported captioner (its signatures take no image_bytes)")
    if method == "beam" and beam_width is not None:
        exported = _exported_beam_width(version_dir)
        if beam_width != exported:
            raise UserError(
                f"{version_dir} was exported with beam width {exported}: leave out --beam, or caption with "
                f"its run directory (--model RUN_DIR) for width {beam_width}"
            )
    signature = signatures[SIGNATURE_OF[method]]

    def caption(images, seed):
        inputs = {"image_bytes": tf.constant(images, tf.string)}
        if method == "sample":
            inputs["seeds"] = tf.fill([len(images)], tf.constant(seed, tf.int64))
        with _captured_stderr():
            outputs = signature(**inputs)
        return [text.decode("utf-8") for text in outputs["captions"].numpy()]

    return caption


def _keras_captioner(run_dir, method, beam_width):
    """`load_captioner` for a run directory: the export's own functions on the Keras model."""
    import tensorflow as tf

    from tfgan_text.export import image_to_text
    from tfgan_text.models import load_model
    from tfgan_text.models.image_to_text.captioner import Captioner

    model = load_model(os.path.join(run_dir, MODEL_FILE))
    if not isinstance(model, Captioner):
        raise UserError(f"{run_dir}/{MODEL_FILE} is not a captioner")
    width = image_to_text.BEAM_WIDTH if beam_width is None else beam_width
    functions = image_to_text.CaptionFunctions(model, run_dir, beam_width=width)
    image_bytes = tf.TensorSpec([None], tf.string)
    if method == "sample":
        function = tf.function(functions.sample, input_signature=[image_bytes, tf.TensorSpec([None], tf.int64)])
    else:
        function = tf.function(getattr(functions, method), input_signature=[image_bytes])

    def caption(images, seed):
        inputs = [tf.constant(images, tf.string)]
        if method == "sample":
            inputs.append(tf.fill([len(images)], tf.constant(seed, tf.int64)))
        with _captured_stderr():
            outputs = function(*inputs)
        return [text.decode("utf-8") for text in outputs["captions"].numpy()]

    return caption


def _exported_beam_width(version_dir):
    """The beam width recorded in a version's `assets.extra/captioner.json`."""
    from tfgan_text.export.image_to_text import BEAM_WIDTH

    path = os.path.join(version_dir, EXTRA_DIR, CAPTIONER_CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as file:
            return int(json.load(file)["beam_width"])
    except FileNotFoundError:
        return BEAM_WIDTH
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{path}: not the captioner.json of an export") from None


@contextlib.contextmanager
def _held_stderr(expected=()):
    """Holds back what native code writes to file descriptor 2 while the block runs: TensorFlow's
    start-up notes (printed whatever TF_CPP_MIN_LOG_LEVEL says) and libjpeg's own note on a
    corrupt JPEG, beside the error TensorFlow raises. It is written out when an exception other
    than one of `expected` escapes."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (an embedding program)
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except expected:
            raise
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _captured_stderr():
    """`_held_stderr` around a model call, where a bad image is an expected InvalidArgumentError."""
    import tensorflow as tf

    return _held_stderr(expected=(tf.errors.InvalidArgumentError,))


def _import_tensorflow():
    """Imports TensorFlow and TF Text (the detokenizer's ops) without their start-up notes."""
    with _held_stderr():
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401
