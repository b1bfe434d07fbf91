"""Export of trained models: versioned SavedModels for TF Serving and ONNX graphs.

`export_run` is the work behind `tfgan-text export RUN_DIR --name NAME [--onnx]`. A model's
`task` chooses its exporter, a module of this package of the same name:
`text_to_image` (`TextConditionalDCGAN`) or `image_to_text` (`Captioner`). A model trained in
mixed precision is exported in float32: its signatures and ONNX graph are those of a float32
run. Every export records the run's settings (`run.json`) in the SavedModel's `assets.extra/`
and beside the ONNX graph.
"""

import contextlib
import importlib
import os

from tfgan_text.errors import UserError
from tfgan_text.file_names import EXTRA_DIR, MODEL_FILE

TASKS = ("text_to_image", "image_to_text")


def export_run(run_dir, name, to="saved_models", version=None, onnx=False, beam_width=None):
    """Exports the model of a run directory (or shipped model directory), whichever task it has.

    Args:
        run_dir: str, a directory with `model.keras`, `vocab.txt` and `tokenizer.json` (and
            `run.json`, which is recorded with the export).
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
    from tfgan_text.text.vocabulary import Vocabulary
    from tfgan_text.training.precision import dtype_policy
    from tfgan_text.training.run_dir import RunDir, write_settings

    with dtype_policy("off"):  # a model trained in mixed precision exports in float32
        model = load_model(os.path.join(run_dir, MODEL_FILE))
    vocabulary = Vocabulary.load(run_dir)  # a clear error now rather than deep inside the export
    run = RunDir(run_dir)
    run_settings = run.read_settings() if run.exists() else None  # a shipped model directory has none
    task = getattr(model, "task", None)
    if task not in TASKS:
        raise UserError(f"{run_dir}/{MODEL_FILE} is neither a text-to-image model nor a captioner")
    options = {}
    if beam_width is not None:
        if task != "image_to_text":
            raise UserError("a beam width is for captioners; this run holds a text-to-image model")
        options["beam_width"] = beam_width
    exporter = importlib.import_module(f"tfgan_text.export.{task}")
    write_saved_model, write_onnx = exporter.writers(model, run_dir, vocabulary, run_settings, **options)
    model_root = os.path.join(to, name)

    def write(directory):
        write_saved_model(directory)
        vocabulary.save(os.path.join(directory, EXTRA_DIR))
        if run_settings is not None:
            write_settings(os.path.join(directory, EXTRA_DIR), run_settings)

    with quiet_tensorflow():
        version, path = write_version(model_root, write, version)
        onnx_path = write_onnx(model_root) if onnx else None
    return {"version": version, "saved_model": path, "onnx": onnx_path}


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
