"""The `tfgan-text` command line: one sub-command per verb.

Bad input (a missing path, an unknown format, a corrupt file, a bad option) ends with one
line on stderr and exit status 2, never a traceback.
"""

import argparse
import os
import sys

from tfgan_text.errors import UserError


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_data_arguments(parser):
    parser.add_argument("--data", default="shapes", help="'shapes' (built in, the default) or a dataset path")
    parser.add_argument("--format", default="auto", help="layout of --data: auto, cub, oxford102, coco, ...")
    parser.add_argument("--split", default="train", help="train, val, test (shapes also: compositional)")
    parser.add_argument("--image-size", type=_positive_int, default=64, help="side of the square images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the built-in dataset and of sampling")


def _data_preview(args):
    """Writes a grid of dataset images with one of their captions under each."""
    import numpy as np

    from tfgan_text import data
    from tfgan_text.image_grid import image_grid

    dataset = data.load(args.data, split=args.split, image_size=args.image_size, format=args.format, seed=args.seed)
    images, captions = [], []
    for example in dataset.take(args.n).as_numpy_iterator():
        images.append(example["image"])
        captions.append(example["captions"][0].decode("utf-8"))
    if not images:
        raise UserError(f"the {args.split!r} split of {args.data!r} has no examples")
    _ensure_parent(args.out)
    image_grid(np.stack(images), captions).save(args.out)
    print(f"wrote {args.out}: {len(images)} images of {args.data!r} ({args.split}) with a caption each")


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"output directory does not exist: {parent}")


def build_parser():
    parser = argparse.ArgumentParser(prog="tfgan-text", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)

    data_parser = verbs.add_parser("data", help="look at datasets")
    data_verbs = data_parser.add_subparsers(dest="data_verb", required=True)
    preview = data_verbs.add_parser("preview", help="write a PNG grid of images with their captions")
    _add_data_arguments(preview)
    preview.add_argument("--n", type=_positive_int, default=16, help="number of images")
    preview.add_argument("--out", default="shapes.png", help="PNG file to write")
    preview.set_defaults(run=_data_preview)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter
    try:
        args.run(args)
    except UserError as error:
        print(f"tfgan-text: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"tfgan-text: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfgan-text: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
