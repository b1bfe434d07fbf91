"""`tfgan-text evaluate`: scores a text-to-image model or a captioner on a split of a dataset,
with fixed judges (`tfgan_text.metrics.judges`), and writes a report.

Example:
    report = evaluate("saved_models/dcgan_shapes", "shapes", split="test", num_images=1000)
    print(format_table(report))
"""

import importlib
import json
import os
import zipfile

from tfgan_text.errors import UserError
from tfgan_text.evaluation.report import format_table, write_report  # noqa: F401  the public API

TASKS = ("text_to_image", "image_to_text")


def model_task(model_dir):
    """"text_to_image" or "image_to_text": read from a run's `model.keras` (its class's `task`)
    or an export's `assets.extra` (a captioner's export writes `captioner.json`)."""
    from tfgan_text.export.versions import latest_version_dir
    from tfgan_text.file_names import CAPTIONER_CONFIG_FILE, EXTRA_DIR, MODEL_FILE
    from tfgan_text.inference.generate import resolve_model_dir

    model_dir = resolve_model_dir(model_dir)
    path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isfile(path):
        extra = os.path.join(latest_version_dir(model_dir), EXTRA_DIR)
        return "image_to_text" if os.path.isfile(os.path.join(extra, CAPTIONER_CONFIG_FILE)) else "text_to_image"
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise UserError(f"{path} is not a readable Keras model: {error}") from None
    module = str(config.get("module", ""))
    model_class = getattr(importlib.import_module(module), str(config.get("class_name")), None) \
        if module.startswith("tfgan_text.models.") else None
    task = getattr(model_class, "task", None)
    if task not in TASKS:
        raise UserError(f"{path} holds a {config.get('class_name')}, neither a text-to-image model nor a captioner")
    return task


def evaluate(model, source="shapes", split="test", metrics=None, num_images=None, seed=0, batch_size=100,
             inception_weights=None, matching_model=None, progress=True):
    """The report of `model` on `split` of `source` (see `text_to_image.evaluate_text_to_image`
    and `image_to_text.evaluate_image_to_text`); `metrics=None` computes all that apply."""
    from tfgan_text.evaluation import image_to_text, text_to_image

    from tfgan_text.data import BUILTIN_SOURCES

    if source not in BUILTIN_SOURCES and not os.path.exists(str(source)):
        raise UserError(f"--data {source}: no such dataset ('shapes' or a dataset path)")
    task = model_task(model)
    module = text_to_image if task == "text_to_image" else image_to_text
    evaluate_task = text_to_image.evaluate_text_to_image if task == "text_to_image" else image_to_text.evaluate_image_to_text
    if metrics is None:
        metrics = module.METRICS
    unknown = [name for name in metrics if name not in module.METRICS]
    if unknown:
        raise UserError(f"--metrics {', '.join(unknown)}: not a metric of {task.replace('_', '-')} models; "
                        f"choose from {', '.join(module.METRICS)}")
    if num_images is not None and num_images < 2:
        raise UserError(f"--num-images must be at least 2, got {num_images}")
    options = {"inception_weights": inception_weights, "matching_model": matching_model} if task == "text_to_image" else {}
    if task == "image_to_text" and (inception_weights or matching_model):
        raise UserError("--inception-weights and --matching-model judge images: they do not apply to a captioner")
    report = evaluate_task(model, source, split, metrics=tuple(metrics), num_images=num_images,
                           seed=seed, batch_size=batch_size, progress=progress, **options)
    return {"model": model, "task": task, "data": str(source), "split": split, **report}
