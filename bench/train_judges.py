"""Trains a shipped judge once and records it in `tfgan_text/judges/judges.json`.

    python bench/train_judges.py shapes-attributes-64px   (and shapes-attributes-32px)
    python bench/train_judges.py fashion-mnist-32px [--data /usr/share/datasets/fashion-mnist]
    python bench/train_judges.py shapes-matching-64px

Each judge is validated on the real images of `val` and `test` (the splits `tfgan-text
evaluate` scores), and its entry holds those figures, the sha256 of its files and this command.
A judge is retrained only on purpose: evaluation reads the shipped files and checks their hashes
(`tfgan_text.metrics.judges`). Writing an entry replaces that judge's folder and entry; the
others stay as they are.
"""

import argparse
import datetime
import functools
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from tfgan_text import data  # noqa: E402
from tfgan_text.caption_evaluation import read_split  # noqa: E402
from tfgan_text.data.formats.idx import CLASS_NAMES  # noqa: E402
from tfgan_text.metrics import judges  # noqa: E402

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
MATCHING_STAGE_1 = {
    # shapes-demo's stage 1 with another seed: the judge shares the recipe, not the weights.
    "image_size": 64, "seed": 1, "batch_size": 16, "text_encoder_epochs": 12,
    "text_encoder_image_downsampling": "max_pool", "text_encoder_shape_negatives": 7,
    "text_encoder_color_negatives": 3, "text_encoder_word_weight": 1.0,
}


def _attributes_judge(folder, args, size):
    """The attribute classifier at `size` px; validated also on the real images of the other
    sizes resized to `size` (how far a judge of one size can be trusted at another)."""
    from tfgan_text.data import shapes
    from tfgan_text.metrics import attribute_classifier as ac

    classifier = ac.train_attribute_classifier(image_size=size, seed=args.seed, verbose=2)
    classifier.save(os.path.join(folder, judges.JUDGE_MODEL_FILE))
    validation = {}
    for split in ("val", "test", "compositional"):
        for other in (32, 64):
            real = shapes.load_split(split, image_size=other)
            resized = np.asarray(judges.to_unit_range(real["image"], size))
            suffix = "" if other == size else f"_from_{other}px"
            validation[split + suffix] = ac.attribute_accuracy(classifier, resized, real)
    return {"kind": "attributes", "image_size": size, "data": "shapes", "validation": validation}


def _fashion_judge(folder, args):
    from tfgan_text.metrics.class_classifier import train_class_classifier

    def split(name):
        batches = list(data.load(args.data, split=name, image_size=32).batch(4096).as_numpy_iterator())
        return np.concatenate([b["image"] for b in batches]), np.concatenate([b["label"] for b in batches])

    images, labels = split("train")
    classifier = train_class_classifier(images, labels, num_classes=10, seed=args.seed, verbose=2)
    classifier.save(os.path.join(folder, judges.JUDGE_MODEL_FILE))
    validation = {}
    for name in ("val", "test"):
        images, labels = split(name)
        predicted = np.argmax(classifier.predict(images, batch_size=500, verbose=0), axis=1)
        validation[name] = {"class_accuracy": float(np.mean(predicted == labels)), "num_images": len(labels)}
    return {"kind": "classes", "image_size": 32, "data": "fashion-mnist", "classes": list(CLASS_NAMES["fashion-mnist"]),
            "validation": validation}


def _matching_judge(folder, args):
    from tfgan_text.evaluation.text_to_image import content_groups
    from tfgan_text.metrics.r_precision import r_precision
    from tfgan_text.file_names import IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE, TOKENIZER_SETTINGS_FILE, VOCAB_FILE
    from tfgan_text.training.train_dcgan import train_text_encoder

    run = tempfile.mkdtemp(prefix="matching-judge-")
    _, recall = train_text_encoder(run, verbose=2, **dict(MATCHING_STAGE_1, seed=args.seed))
    for name in (TEXT_ENCODER_FILE, IMAGE_ENCODER_FILE, VOCAB_FILE, TOKENIZER_SETTINGS_FILE):
        shutil.copy(os.path.join(run, name), os.path.join(folder, name))
    shutil.rmtree(run)
    entry = {"kind": "matching", "image_size": 64, "data": "shapes", "files": {}}
    judge = judges.MatchingJudge("new", folder, entry)
    validation = {"val_caption_to_image": recall}
    for split in ("val", "test"):
        images, captions, attributes = read_split(data.load("shapes", split=split, image_size=64))
        first = [options[0] for options in captions]
        validation[split] = r_precision(judge.embed_images(images), judge.embed_captions(first),
                                        groups=content_groups(attributes=attributes))
    entry["validation"] = validation
    return entry


BUILDERS = {
    "shapes-attributes-32px": functools.partial(_attributes_judge, size=32),
    "shapes-attributes-64px": functools.partial(_attributes_judge, size=64),
    "fashion-mnist-32px": _fashion_judge,
    "shapes-matching-64px": _matching_judge,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("judge", choices=sorted(BUILDERS))
    parser.add_argument("--data", default=FASHION_MNIST, help="fashion-mnist-32px: the IDX folder")
    parser.add_argument("--seed", type=int, default=None, help="default: 0, and 1 for the matching judge")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = 1 if args.judge == "shapes-matching-64px" else 0
    folder = os.path.join(judges.JUDGES_DIR, args.judge)
    staging = tempfile.mkdtemp(prefix=args.judge + ".", dir=judges.JUDGES_DIR)
    try:
        entry = BUILDERS[args.judge](staging, args)
    except BaseException:
        shutil.rmtree(staging)
        raise
    entry["files"] = {name: judges.file_sha256(os.path.join(staging, name)) for name in sorted(os.listdir(staging))}
    command = f"python bench/train_judges.py {args.judge}"
    entry["command"] = command + (f" --seed {args.seed}" if args.seed != (1 if "matching" in args.judge else 0) else "")
    entry["made"] = datetime.date.today().isoformat()
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.replace(staging, folder)
    entries = judges.registry()
    entries[args.judge] = entry
    path = os.path.join(judges.JUDGES_DIR, judges.REGISTRY_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as file:
        json.dump(dict(sorted(entries.items())), file, indent=1)
        file.write("\n")
    os.replace(path + ".tmp", path)
    print(json.dumps({"judge": args.judge, **{k: v for k, v in entry.items() if k != "classes"}}))


if __name__ == "__main__":
    main()
