"""Scores of a captioner on a dataset split: the COCO n-gram scores against all of each image's
references, diversity, and whether the captions say what the image shows (the shapes
attributes, or the class name of a labelled dataset such as Fashion-MNIST).

The split's images go to the model as PNG bytes, through the very signature TF Serving serves
(`inference.caption.load_captioner`: an export's `serving_default`, or the same function on a
run's Keras model), batch by batch; only the captions are kept. References and generated
captions are compared as the model's tokens joined by spaces, as the COCO scorer expects them.
"""

import json
import os

import numpy as np

from tfgan_text.data.shapes import ATTRIBUTES
from tfgan_text.errors import UserError
from tfgan_text.evaluation.progress import Progress
from tfgan_text.metrics import diversity
from tfgan_text.metrics.caption_attributes import attribute_correctness
from tfgan_text.metrics.captions import caption_scores

METRICS = ("ngrams", "diversity", "accuracy")


def _image_size(directory):
    """The side the captioner was trained at (its `run.json` or `captioner.json`), else 64."""
    from tfgan_text.file_names import CAPTIONER_CONFIG_FILE, RUN_SETTINGS_FILE

    for name in (RUN_SETTINGS_FILE, CAPTIONER_CONFIG_FILE):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as file:
                size = json.load(file).get("image_size")
            if size:
                return int(size)
    return 64


def class_named(captions, labels, class_names):
    """The share of captions that hold the name of their image's class (as whole words)."""
    hits = [f" {class_names[label]} " in f" {caption} " for caption, label in zip(captions, labels)]
    return float(np.mean(hits))


def evaluate_image_to_text(model, source, split="test", metrics=METRICS, num_images=None, seed=0, batch_size=100,
                           progress=True):
    """The report of `tfgan-text evaluate` for a captioner.

    Args:
        model: a run directory or an exported `saved_models/NAME`.
        source: the dataset (`"shapes"` or a path).
        split: str.
        metrics: names from `METRICS`.
        num_images: int or None (the whole split).
        seed: int, recorded (beam search draws nothing).
        batch_size: int, images captioned at once.
        progress: bool, a progress line on stderr.

    Returns:
        dict: `metrics` (the captions' figures), `real` (the same diversity figures of each
        image's first reference: the yardstick), `num_images`, `seed`, `examples`, `notes`.
    """
    import tensorflow as tf

    from tfgan_text import data
    from tfgan_text.inference.caption import load_captioner
    from tfgan_text.inference.generate import vocabulary_dir
    from tfgan_text.text import PyTokenizer

    beam = load_captioner(model, "beam")  # the shipped default decoding
    vocabulary = vocabulary_dir(model)
    tokens = PyTokenizer.load(vocabulary).tokens
    dataset = data.load(source, split=split, image_size=_image_size(vocabulary))
    if num_images is not None:
        dataset = dataset.take(num_images)
    generated, references, labels, attributes = [], [], [], []
    bar = Progress("images", num_images, enabled=progress)
    for batch in dataset.ragged_batch(batch_size):
        pngs = [png for png in tf.map_fn(tf.io.encode_png, batch["image"], fn_output_signature=tf.string).numpy()]
        generated += beam(pngs, seed)
        captions = batch["captions"]
        rows = captions.to_list() if isinstance(captions, tf.RaggedTensor) else captions.numpy().tolist()
        references += [[caption.decode("utf-8") for caption in row] for row in rows]
        if "label" in batch:
            labels += list(batch["label"].numpy())
        if "attributes" in batch:
            attributes.append({key: batch["attributes"][key].numpy() for key in ATTRIBUTES})
        bar.update(len(references))
    bar.done()
    if not references:
        raise UserError(f"split {split!r} of {source} has no images")
    joined = [" ".join(tokens(caption)) for caption in generated]
    refs = [[" ".join(tokens(caption)) for caption in row] for row in references]
    report = {"metrics": {}, "real": {}, "notes": []}
    if "ngrams" in metrics:
        report["metrics"].update(caption_scores(dict(enumerate(refs)), {i: [c] for i, c in enumerate(joined)}))
    if "diversity" in metrics:
        report["metrics"].update(diversity.corpus_diversity(joined))
        report["real"].update(diversity.corpus_diversity(row[0] for row in refs))
    if "accuracy" in metrics:
        if attributes:
            merged = {key: np.concatenate([part[key] for part in attributes]) for key in ATTRIBUTES}
            report["metrics"]["accuracy"] = attribute_correctness(generated, merged)
            report["real"]["accuracy"] = attribute_correctness([row[0] for row in references], merged)
        elif labels:
            from tfgan_text.data.formats.idx import resolve_class_names

            names = resolve_class_names(source)
            report["metrics"]["accuracy"] = {"class_named": class_named(generated, labels, names)}
            report["real"]["accuracy"] = {"class_named": class_named([r[0] for r in references], labels, names)}
        else:
            report["notes"].append(f"accuracy: {source} has neither shapes attributes nor class labels")
    report.update({"num_images": len(references), "seed": seed,
                   "examples": [{"generated": g, "reference": r[0]} for g, r in zip(generated[:5], references[:5])]})
    return report
