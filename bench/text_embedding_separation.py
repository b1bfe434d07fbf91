"""Does the pretrained sentence embedding tell captions apart by each attribute?

Pretrains the text encoder as stage 1 of `train dcgan` does (jointly with an image encoder,
the symmetric matching loss), then, on the canonical captions (`shapes.describe`) of `val`
images, compares each caption with copies in which one object's colour, shape, size or place
is changed (to a value that keeps the scene valid and outside the held-out colour-shape pairs):

- `cos_<attribute>`: the mean cosine similarity of the two sentence embeddings. Near 1: the
  encoder hardly sees the change, so a GAN-CLS discriminator can reject wrong captions without
  looking at that attribute.
- `swap_<attribute>`: the fraction of images whose own caption scores above (cosine with the
  image embedding) the changed one: whether the joint space ties that word to the image.

plus caption -> image recall@1/@5 over all captions of the first 1,000 `val` images, and wall
times. Prints one JSON line. With `--from-run DIR`, it trains nothing and gives the `cos_`
figures of the text encoder saved in a run directory (its image encoder is not saved).

    python bench/text_embedding_separation.py --epochs 3 [--set NAME=JSON ...] [--out DIR]
    python bench/text_embedding_separation.py --from-run runs/quality_te
"""

import argparse
import json
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_text.data import shapes  # noqa: E402
from tfgan_text.file_names import TEXT_ENCODER_FILE  # noqa: E402
from tfgan_text.training import train_dcgan  # noqa: E402
from tfgan_text.training.strategy import select_strategy  # noqa: E402

ATTRIBUTES = ("color", "shape", "size", "position")
_HELD_OUT = {
    (shapes.ATTRIBUTE_NAMES["color"].index(c), shapes.ATTRIBUTE_NAMES["shape"].index(s))
    for c, s in shapes.HELD_OUT_PAIRS
}


def changed_scene(example, attribute, rng):
    """A copy of `example` (ids per attribute, `[2]` each) with one object's `attribute` changed.

    The object is drawn at random; the new value differs from the old one, keeps the two objects
    in different places and keeps every (colour, shape) pair out of `HELD_OUT_PAIRS`.
    """
    objects = [j for j in range(2) if example["shape"][j] >= 0]
    j = objects[rng.integers(len(objects))]
    choices = []
    for value in range(len(shapes.ATTRIBUTE_NAMES[attribute])):
        if value == example[attribute][j]:
            continue
        candidate = {name: np.array(ids) for name, ids in example.items()}
        candidate[attribute][j] = value
        if len(objects) == 2 and candidate["position"][0] == candidate["position"][1]:
            continue
        if any((candidate["color"][k], candidate["shape"][k]) in _HELD_OUT for k in objects):
            continue
        choices.append(candidate)
    return choices[rng.integers(len(choices))]


def caption_pairs(examples, seed):
    """`{attribute: (captions, changed captions)}` over the examples, one pair per example."""
    rng = np.random.default_rng(seed)
    pairs = {attribute: ([], []) for attribute in ATTRIBUTES}
    for i in range(len(examples["shape"])):
        example = {name: examples[name][i] for name in shapes.ATTRIBUTES}
        for attribute in ATTRIBUTES:
            pairs[attribute][0].append(shapes.describe(example))
            pairs[attribute][1].append(shapes.describe(changed_scene(example, attribute, rng)))
    return pairs


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def separation(text_encoder, image_encoder, tokenize, examples, seed, batch_size=250):
    """`cos_<attribute>` and, given an image encoder, `swap_<attribute>` figures (see the module docstring)."""

    def embed_texts(captions):
        return np.concatenate(
            [
                np.asarray(text_encoder(tokenize(tf.constant(captions[s : s + batch_size])), training=False)["sentence"])
                for s in range(0, len(captions), batch_size)
            ]
        )

    figures, embedded = {}, {}
    for attribute, (captions, changed) in caption_pairs(examples, seed).items():
        own, other = embedded[attribute] = _unit(embed_texts(captions)), _unit(embed_texts(changed))
        figures[f"cos_{attribute}"] = round(float(np.mean(np.sum(own * other, axis=1))), 4)
    if image_encoder is None:
        return figures
    images = examples["image"].astype("float32") / 127.5 - 1.0
    image_embeddings = _unit(
        np.concatenate(
            [
                np.asarray(image_encoder(images[s : s + batch_size], training=False)["global"])
                for s in range(0, len(images), batch_size)
            ]
        )
    )
    for attribute, (own, other) in embedded.items():
        own_score = np.sum(own * image_embeddings, axis=1)
        other_score = np.sum(other * image_embeddings, axis=1)
        figures[f"swap_{attribute}"] = round(float(np.mean(own_score > other_score)), 4)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="text-encoder pretraining epochs")
    parser.add_argument("--out", default=None, help="run directory (default: a temporary one, removed after)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--val-images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                        help="another DCGANSettings field, e.g. text_encoder_gamma=20")
    parser.add_argument("--from-run", default=None, help="measure the text encoder saved in this run directory")
    args = parser.parse_args()
    if args.from_run:
        from tfgan_text.models import load_model
        from tfgan_text.text.tokenizer import Tokenizer

        text_encoder = load_model(os.path.join(args.from_run, TEXT_ENCODER_FILE))
        examples = shapes.load_split("val", image_size=args.image_size, seed=args.seed, num_examples=args.val_images)
        figures = {"benchmark": "text_embedding_separation", "run": args.from_run}
        figures.update(separation(text_encoder, None, Tokenizer(args.from_run), examples, args.seed))
        print(json.dumps(figures))
        return
    settings = {name: json.loads(value) for name, value in (item.split("=", 1) for item in args.set)}
    settings.update(image_size=args.image_size, batch_size=args.batch_size, seed=args.seed,
                    text_encoder_epochs=args.epochs, steps_per_epoch=args.steps_per_epoch)
    out = args.out or tempfile.mkdtemp(prefix="text_separation_")

    try:
        start = time.perf_counter()
        # What `train_text_encoder` does, keeping the image encoder for the swap figures.
        run = train_dcgan._Run(out, False, settings)
        with select_strategy("auto").scope():
            text_encoder, image_encoder = train_dcgan._pretrain_text_encoder(run, verbose=2)
        pretrain_seconds = time.perf_counter() - start
        recall = train_dcgan._validation_recall(run, text_encoder, image_encoder)
        examples = shapes.load_split("val", image_size=args.image_size, seed=args.seed, num_examples=args.val_images)
        figures = {"benchmark": "text_embedding_separation", "text_encoder_epochs": args.epochs,
                   "steps_per_epoch": run.steps, **{k: v for k, v in settings.items() if k not in (
                       "image_size", "batch_size", "seed", "text_encoder_epochs", "steps_per_epoch")}}
        figures.update(separation(text_encoder, image_encoder, run.tokenize, examples, args.seed))
        figures.update({k: round(v, 4) for k, v in recall.items()})
        figures["pretrain_wall_s"] = round(pretrain_seconds, 1)
        figures["total_wall_s"] = round(time.perf_counter() - start, 1)
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
