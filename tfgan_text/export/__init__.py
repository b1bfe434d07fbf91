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


def export_run(run_dir, name, to="saved_models", version=None, onnx=False):
    """Exports the text-to-image model of a run directory (or shipped model directory).

    Args:
        run_dir: str, a directory with `model.keras`, `vocab.txt` and `tokenizer.json`.
        name: str, the model name: versions go to `to/name/VERSION/`.
        to: str, the base folder of served models.
        version: int or None (one more than the highest present).
        onnx: bool, also write `to/name/onnx/`.

    Returns:
        `{"version": int, "saved_model": path, "onnx": path or None}`.
    """
    if not name or name != os.path.basename(name) or name.startswith(".") or name.isdigit():
        raise UserError(f"--name must be a plain folder name (not a path, not a number), got {name!r}")
    if not os.path.isdir(run_dir):
        raise UserError(f"no run directory {run_dir}")
    from tfgan_text.export.onnx import export_onnx
    from tfgan_text.export.saved_model import text_to_image_archive
    from tfgan_text.export.versions import write_version
    from tfgan_text.models import load_model
    from tfgan_text.text.vocabulary import Vocabulary

    model = load_model(os.path.join(run_dir, MODEL_FILE))
    if not hasattr(model, "generator"):
        raise UserError(f"{run_dir}/{MODEL_FILE} is not a text-to-image model")
    vocabulary = Vocabulary.load(run_dir)  # a clear error now rather than deep inside the export
    model_root = os.path.join(to, name)
    archive = text_to_image_archive(model, run_dir)

    def write(directory):
        archive.write_out(directory, verbose=False)
        vocabulary.save(os.path.join(directory, EXTRA_DIR))

    with _quiet_tensorflow():
        version, path = write_version(model_root, write, version)
        onnx_path = export_onnx(model, run_dir, model_root) if onnx else None
    return {"version": version, "saved_model": path, "onnx": onnx_path}


@contextlib.contextmanager
def _quiet_tensorflow():
    """Silences TensorFlow's notes while saving (table initializers, assets): not for users."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)
