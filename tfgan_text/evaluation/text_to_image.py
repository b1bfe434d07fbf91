"""Scores of a text-to-image model on a dataset split: FID, KID, IS, precision/recall,
R-precision and the judge's attribute or class accuracy, each beside its yardstick on real images.

For each of the split's first N images, one of its captions (drawn with `seed`) is given to the
model with seed `seed + i` (the package's seed rule), and the generated images are compared
with the split's real images in the feature space of a fixed judge (`metrics.judges`). Real
images are scored by the same judge and the same code: the real `train` images against the
split's (the real-vs-real FID and KID a model cannot beat), the judge's accuracy and IS on the
real images, and R-precision of the real images with their own captions. Images are generated
and judged batch by batch and only features are kept, so memory grows with N x feature width.
"""

import numpy as np

from tfgan_text.data.shapes import ATTRIBUTES
from tfgan_text.errors import UserError
from tfgan_text.evaluation.progress import Progress
from tfgan_text.metrics import attribute_classifier, judges
from tfgan_text.metrics.frechet_distance import fid_from_features
from tfgan_text.metrics.inception_score import inception_score
from tfgan_text.metrics.kernel_distance import kernel_inception_distance
from tfgan_text.metrics.precision_recall import precision_recall
from tfgan_text.metrics.r_precision import r_precision

METRICS = ("fid", "kid", "is", "precision_recall", "r_precision", "accuracy")


def content_groups(captions=None, attributes=None, labels=None):
    """An int group per image for R-precision: images of one group may share a caption's
    content, so no caption of the group counts as a mismatched one. The shapes attributes when
    given, else the class labels, else the caption text itself."""
    if attributes is not None:
        keys = [tuple(row) for row in np.concatenate([np.asarray(attributes[key]) for key in ATTRIBUTES], axis=1)]
    elif labels is not None:
        keys = list(np.asarray(labels))
    else:
        keys = list(captions)
    index = {}
    return np.array([index.setdefault(key, len(index)) for key in keys], np.int64)


def _judges(source, image_size, metrics, inception_weights, matching_model):
    """The image judge and the matching judge (or None) for images of `image_size` from `source`."""
    key = judges.dataset_key(source)
    if inception_weights is not None:
        image_judge = judges.InceptionJudge(inception_weights)
    elif key in judges.IMAGE_JUDGES:
        image_judge = judges.load(judges.image_judge_name(key, image_size))
    else:
        raise UserError(f"no shipped judge for --data {source}: pass --inception-weights FILE "
                        "(Keras's InceptionV3 weights with the top)")
    matching = None
    if "r_precision" in metrics:
        if matching_model is not None:
            matching = judges.MatchingJudge.from_run(matching_model)
        elif key in judges.MATCHING_JUDGES:
            matching = judges.load(judges.MATCHING_JUDGES[key])
    return image_judge, matching


class _Collected:
    """What the judges read from a stream of images, batch after batch."""

    def __init__(self):
        self.parts = {}

    def add(self, name, value):
        self.parts.setdefault(name, []).append(value)

    def get(self, name):
        values = self.parts.get(name)
        if not values:
            return None
        if isinstance(values[0], dict):
            return {key: np.concatenate([v[key] for v in values]) for key in values[0]}
        return np.concatenate(values)


def _read(judge, images, into, prefix):
    out = judge.read(images)
    into.add(prefix + "features", out["features"])
    into.add(prefix + "probabilities", out["probabilities"])
    if "outputs" in out:
        into.add(prefix + "outputs", out["outputs"])


def split_batches(source, split, image_size, num_images, batch_size, seed=0):
    """Batches of the split's first `num_images` examples (all: None) as numpy: `image`, one
    `caption` per image (caption k of image i, k drawn from (seed, i), whatever the batch size),
    and `attributes` or `label` where the source has them."""
    import tensorflow as tf

    from tfgan_text import data

    dataset = data.load(source, split=split, image_size=image_size)
    if num_images is not None:
        dataset = dataset.take(num_images)

    def one_caption(i, example):
        count = tf.shape(example["captions"])[0]
        k = tf.random.stateless_uniform([], [seed, i], maxval=tf.maximum(count, 1), dtype=tf.int32)
        kept = {key: value for key, value in example.items() if key != "captions"}
        return {**kept, "caption": tf.cond(count > 0, lambda: example["captions"][k], lambda: tf.constant(""))}

    return dataset.enumerate().map(one_caption).batch(batch_size).as_numpy_iterator()


def _accuracy(judge, outputs_or_probabilities, attributes, labels):
    if isinstance(judge, judges.AttributeJudge) and attributes is not None:
        return attribute_classifier.set_accuracy(outputs_or_probabilities, attributes)
    if isinstance(judge, judges.ClassJudge) and labels is not None:
        right = np.argmax(outputs_or_probabilities, 1) == labels
        per_class = {judge.class_names[label]: float(np.mean(right[labels == label])) for label in np.unique(labels)}
        return {"class_accuracy": float(np.mean(right)), "per_class": per_class}
    return None


def evaluate_text_to_image(model, source, split="test", metrics=METRICS, num_images=None, seed=0, batch_size=100,
                           inception_weights=None, matching_model=None, progress=True):
    """The report of `tfgan-text evaluate` for a text-to-image model (see the module docstring).

    Args:
        model: a run directory or an exported `saved_models/NAME`.
        source: the dataset (`"shapes"` or a path) whose split gives captions and real images.
        split: str.
        metrics: names from `METRICS`.
        num_images: int or None (the whole split).
        seed: int, of the caption choice and of the images (image i: seed + i).
        batch_size: int, images generated and judged at once.
        inception_weights: path or None: Inception-v3 as the judge instead of the shipped one.
        matching_model: a run directory with text and image encoders, or None (the shipped
            matching judge of the data, if any), for R-precision.
        progress: bool, a progress line on stderr.

    Returns:
        dict: `metrics` (generated images), `real` (the same figures of real images), `judge`,
        `matching_judge`, `num_images`, `seed`, `image_size`, `notes`.
    """
    from tfgan_text.inference.generate import ImageDrawer

    drawer = ImageDrawer(model)
    image_judge, matching = _judges(source, drawer.image_size, metrics, inception_weights, matching_model)
    got = _Collected()
    count = 0
    bar = Progress("images", num_images, enabled=progress)
    for batch in split_batches(source, split, drawer.image_size, num_images, batch_size, seed):
        size = len(batch["image"])
        captions = [caption.decode("utf-8") for caption in batch["caption"]]
        generated = drawer(captions, list(range(seed + count, seed + count + size)))
        _read(image_judge, batch["image"], got, "real_")
        _read(image_judge, generated, got, "generated_")
        if matching is not None:
            got.add("real_embeddings", matching.embed_images(batch["image"]))
            got.add("generated_embeddings", matching.embed_images(generated))
            got.add("caption_embeddings", matching.embed_captions(captions))
        got.add("captions", np.array(captions, dtype=object))
        if "attributes" in batch:
            got.add("attributes", {key: batch["attributes"][key] for key in ATTRIBUTES})
        if "label" in batch:
            got.add("labels", batch["label"])
        count += size
        bar.update(count)
    bar.done()
    if count < 2:
        raise UserError(f"split {split!r} of {source} gave {count} image(s); evaluation needs at least 2")
    notes = []
    report = {"metrics": {}, "real": {}}
    real, generated = got.get("real_features"), got.get("generated_features")
    if "fid" in metrics or "kid" in metrics:
        baseline = _Collected()
        for batch in split_batches(source, "train", drawer.image_size, count, batch_size):
            _read(image_judge, batch["image"], baseline, "")
        train = baseline.get("features")
        if "fid" in metrics:
            report["metrics"]["fid"] = fid_from_features(real, generated)
            report["real"]["fid"] = fid_from_features(real, train)
        if "kid" in metrics:
            # KID's usual subsets of 1,000 where N allows two of them; else halves (a subset of
            # all N would give the same figure every time, and no spread).
            subset = max(2, min(1000, count // 2, len(train) // 2))
            report["kid_subset_size"] = subset
            report["metrics"]["kid"] = kernel_inception_distance(real, generated, subset_size=subset, seed=seed)
            report["real"]["kid"] = kernel_inception_distance(real, train, subset_size=subset, seed=seed)
        notes.append(f"real: the split's real images against {len(train)} real train images")
    if "is" in metrics:
        splits = min(10, count)
        report["metrics"]["is"] = inception_score(got.get("generated_probabilities"), splits=splits)
        report["real"]["is"] = inception_score(got.get("real_probabilities"), splits=splits)
    if "precision_recall" in metrics:
        report["metrics"]["precision_recall"] = precision_recall(real, generated)
    if "r_precision" in metrics:
        if matching is None:
            notes.append(f"r_precision: no matching judge for {source}; pass --matching-model RUN")
        else:
            groups = content_groups(got.get("captions"), got.get("attributes"), got.get("labels"))
            texts = got.get("caption_embeddings")
            try:
                report["metrics"]["r_precision"] = r_precision(got.get("generated_embeddings"), texts, groups=groups,
                                                               seed=seed)
                report["real"]["r_precision"] = r_precision(got.get("real_embeddings"), texts, groups=groups,
                                                            seed=seed)
            except UserError as error:  # too few images, or too few captions of other content
                notes.append(f"r_precision: {error}; evaluate more images")
    if "accuracy" in metrics:
        attributes, labels = got.get("attributes"), got.get("labels")
        for side in ("generated", "real"):
            scored = got.get(f"{side}_outputs") or got.get(f"{side}_probabilities")
            accuracy = _accuracy(image_judge, scored, attributes, labels)
            if accuracy is not None:
                report["metrics" if side == "generated" else "real"]["accuracy"] = accuracy
    report.update({
        "judge": image_judge.describe(),
        "matching_judge": matching.describe() if matching is not None else None,
        "num_images": count,
        "seed": seed,
        "image_size": drawer.image_size,
        "notes": notes,
    })
    return report
