"""Does stage 1's image encoder, the teacher of G's matching loss, see in generated images
what the attribute classifier sees?

G's matching loss (`--matching-weight`) asks each generated image to match its caption better
than captions with one word swapped, under stage 1's frozen encoders. If G learns the shapes
the caption names, the teacher and the attribute classifier agree; if G learns features that
the teacher reads as a shape but that draw none, the teacher scores generated images like real
ones while the classifier does not: the teacher is fooled.

On the canonical captions of `val` images, prints one JSON line with, for the real images and
for images generated from their captions: the teacher's `swap_<attribute>` figures (the
fraction of images that match their own caption better than the caption with one object's
colour, shape, size or place changed, as `bench/text_embedding_separation.py`) and the
classifier's exact-set colour and shape accuracy (`tfgan_text.metrics.attribute_classifier`);
and, for scenes of one object, `<real|generated>_shape_picks`: for each named shape, how many
images the teacher gives to each of the 8 shapes (the shape variant of the caption it scores
highest) and how many the classifier gives to each (its most probable shape), in the order of
`shapes.ATTRIBUTE_NAMES["shape"]`: which shapes G draws as another, and whether the teacher
sees it.

    python bench/teacher_agreement.py --teacher RUN_DIR [--model MODEL_DIR]

`--teacher` is a run directory whose stage 1 is done (`text_encoder.keras`,
`image_encoder.keras`); `--model` is what generates (a run directory or an exported model,
default the teacher's run). A teacher from another run of the same settings judges a model
that never trained against it.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from text_embedding_separation import _unit, separation  # noqa: E402  (bench/, beside this file)

from tfgan_text.data import shapes  # noqa: E402
from tfgan_text.inference.generate import generate_images  # noqa: E402
from tfgan_text.metrics import judges  # noqa: E402
from tfgan_text.metrics.attribute_classifier import attribute_accuracy, predict_probabilities  # noqa: E402
from tfgan_text.models import load_model  # noqa: E402
from tfgan_text.text.tokenizer import Tokenizer  # noqa: E402
from tfgan_text.file_names import IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE  # noqa: E402


def shape_picks(text_encoder, image_encoder, tokenize, classifier, attributes, images):
    """`{named shape: {"teacher": counts [8], "classifier": counts [8]}}` over one-object scenes."""
    names = shapes.ATTRIBUTE_NAMES["shape"]
    alone = np.nonzero(attributes["shape"][:, 1] < 0)[0]
    variants = []  # [8][n]: each scene's caption with its shape set to each shape
    for shape in range(len(names)):
        captions = []
        for i in alone:
            scene = {name: np.array(values[i]) for name, values in attributes.items()}
            scene["shape"][0] = shape
            captions.append(shapes.describe(scene))
        variants.append(_unit(text_encoder(tokenize(tf.constant(captions)), training=False)["sentence"]))
    pixels = images[alone].astype("float32") / 127.5 - 1.0
    image_embeddings = _unit(image_encoder(pixels, training=False)["global"])
    teacher = np.argmax(np.stack([np.sum(v * image_embeddings, axis=1) for v in variants], axis=1), axis=1)
    classifier_pick = np.argmax(predict_probabilities(classifier, images[alone])["shape"], axis=1)
    named = attributes["shape"][alone, 0]
    return {
        names[shape]: {"teacher": np.bincount(teacher[named == shape], minlength=len(names)).tolist(),
                       "classifier": np.bincount(classifier_pick[named == shape], minlength=len(names)).tolist()}
        for shape in range(len(names))
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="run directory holding stage 1's encoders")
    parser.add_argument("--model", default=None, help="model that generates (default: the teacher's run)")
    parser.add_argument("--val-images", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in (TEXT_ENCODER_FILE, IMAGE_ENCODER_FILE):
        if not os.path.isfile(os.path.join(args.teacher, name)):
            parser.error(f"{args.teacher} has no {name}: give a run directory whose stage 1 is done")

    text_encoder = load_model(os.path.join(args.teacher, TEXT_ENCODER_FILE))
    image_encoder = load_model(os.path.join(args.teacher, IMAGE_ENCODER_FILE))
    tokenize = Tokenizer(args.teacher)
    examples = shapes.load_split("val", image_size=64, seed=args.seed, num_examples=args.val_images)
    attributes = {name: examples[name] for name in shapes.ATTRIBUTES}
    captions = [shapes.describe({name: values[i] for name, values in attributes.items()})
                for i in range(len(examples["image"]))]
    generated, _ = generate_images(args.model or args.teacher, captions, seed=args.seed)
    classifier = judges.load(judges.image_judge_name("shapes", 64)).model

    figures = {"benchmark": "teacher_agreement", "teacher": args.teacher, "model": args.model or args.teacher}
    for name, images in (("real", examples["image"]), ("generated", generated)):
        judged = separation(text_encoder, image_encoder, tokenize, {**examples, "image": images}, args.seed)
        figures.update({f"{name}_teacher_{key}": value for key, value in judged.items() if key.startswith("swap_")})
        accuracy = attribute_accuracy(classifier, images, attributes)
        for key in ("color_accuracy", "shape_accuracy"):
            figures[f"{name}_classifier_{key}"] = round(float(accuracy[key]), 4)
        figures[f"{name}_shape_picks"] = shape_picks(text_encoder, image_encoder, tokenize, classifier, attributes,
                                                     images)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
