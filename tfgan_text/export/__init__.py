"""Export of trained models: versioned SavedModels for TF Serving and ONNX graphs.

`export_run` is the work behind `tfgan-text export RUN_DIR --name NAME [--onnx]`.
"""

import contextlib
import os

from tfgan_text.errors import UserError

MODEL_FILE = "model.keras"
# TF Serving's place for files a client may want beside a version: here the vocabulary and
# tokenizer settings, so the version is self-contained.
EXTRA_DIR = "assets.extra"


def export_run(run_dir, name, to="saved_models", version=None, onnx=False, beam_width=None):
    """Exports the model of a run directory (or shipped model directory), whichever kind it is.

    A text-to-image model (`TextConditionalDCGAN`) gets the signatures of
    `tfgan_text.export.saved_model`; a `Captioner` those of `tfgan_text.export.image_to_text`.

    Args:
        run_dir: str, a directory with `model.keras`, `vocab.txt` and `tokenizer.json`.
        name: str, the model name: versions go to `to/name/VERSION/`.
        to: str, the base folder of served models.
        version: int or None (one more than the highest present).
        onnx: bool, also write `to/name/onnx/`.
        beam_width: int or None, the beam width of a captioner's `serving_default` (default 3);
            only for a captioner.

    Returns:
        `{"version": int, "saved_model": path, "onnx": path or None}`.
    """
    if not name or name != os.path.basename(name) or name.startswith(".") or name.isdigit():
        raise UserError(f"--name must be a plain folder name (not a path, not a number), got {name!r}")
    if not os.path.isdir(run_dir):
        raise UserError(f"no run directory {run_dir}")
    from tfgan_text.export.versions import write_version
    from tfgan_text.models import load_model
    from tfgan_text.models.captioner import Captioner
    from tfgan_text.text.vocabulary import Vocabulary

    model = load_model(os.path.join(run_dir, MODEL_FILE))
    vocabulary = Vocabulary.load(run_dir)  # a clear error now rather than deep inside the export
    if isinstance(model, Captioner):
        export, write_onnx = _image_to_text_export(model, run_dir, beam_width)
    elif hasattr(model, "generator"):
        if beam_width is not None:
            raise UserError("a beam width is for captioners; this run holds a text-to-image model")
        export, write_onnx = _text_to_image_export(model, run_dir)
    else:
        raise UserError(f"{run_dir}/{MODEL_FILE} is neither a text-to-image model nor a captioner")
    model_root = os.path.join(to, name)

    def write(directory):
        export(directory)
        vocabulary.save(os.path.join(directory, EXTRA_DIR))

    with quiet_tensorflow():
        version, path = write_version(model_root, write, version)
        onnx_path = write_onnx(model_root) if onnx else None
    return {"version": version, "saved_model": path, "onnx": onnx_path}


def _text_to_image_export(model, run_dir):
    """(write the SavedModel into a directory, write `onnx/` into a model root) of a text-to-image model."""
    from tfgan_text.export.onnx import export_onnx
    from tfgan_text.export.saved_model import text_to_image_archive

    archive = text_to_image_archive(model, run_dir)
    return (lambda directory: archive.write_out(directory, verbose=False)), (
        lambda model_root: export_onnx(model, run_dir, model_root)
    )


def _image_to_text_export(model, run_dir, beam_width):
    """(write the SavedModel into a directory, write `onnx/` into a model root) of a captioner."""
    from tfgan_text.export import image_to_text
    from tfgan_text.export.onnx import OPSET, write_onnx_dir

    width = image_to_text.BEAM_WIDTH if beam_width is None else beam_width
    functions = image_to_text.CaptionFunctions(model, run_dir, beam_width=width)
    archive = image_to_text.image_to_text_archive(functions)

    def write(directory):
        archive.write_out(directory, verbose=False)
        image_to_text.write_export_config(functions, os.path.join(directory, EXTRA_DIR))

    def write_onnx(model_root):
        model_proto = image_to_text.convert_greedy_to_onnx(functions, OPSET)
        config = image_to_text.onnx_config(functions, OPSET)
        return write_onnx_dir(model_root, model_proto, functions.tokenizer.vocabulary, config)

    return write, write_onnx


@contextlib.contextmanager
def quiet_tensorflow():
    """Silences TensorFlow's Python notes while saving or loading (table initializers, assets): not for users."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)
