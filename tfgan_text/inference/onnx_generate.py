"""Captions to a PNG grid with ONNX Runtime alone: no TensorFlow, no Keras.

    python -m tfgan_text.inference.onnx_generate --model saved_models/dcgan_shapes/onnx "a red star" --n 4 --out grid.png

Needs only onnxruntime, numpy, Pillow and the package's pure-Python tokenizer, which reads
the `vocab.json` and `config.json` beside `model.onnx`.
"""

import argparse
import json
import os
import sys

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.file_names import ONNX_CONFIG_FILE, ONNX_FILE
from tfgan_text.image_grid import image_grid, to_uint8
from tfgan_text.inference.generate import row_seeds
from tfgan_text.noise import seed_noise
from tfgan_text.text import PyTokenizer


def noise_dim(model_dir):
    """The noise size of the exported graph, from its `config.json`."""
    path = os.path.join(model_dir, ONNX_CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as file:
            return int(json.load(file)["model"]["noise_dim"])
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path}: not the config.json of an exported ONNX model") from None


def onnx_images(model_dir, captions, noise):
    """float32 images `[B, S, S, 3]` in [-1, 1] for `captions` (list of str) and `noise` `[B, Z]`."""
    import onnxruntime

    path = os.path.join(model_dir, ONNX_FILE)
    if not os.path.isfile(path):
        raise UserError(f"no {ONNX_FILE} in {model_dir}; export one with `tfgan-text export RUN --name NAME --onnx`")
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    token_ids = PyTokenizer.load(model_dir).encode(captions)
    return session.run(["images"], {"token_ids": token_ids, "noise": np.asarray(noise, np.float32)})[0]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tfgan_text.inference.onnx_generate", description=__doc__.splitlines()[0])
    parser.add_argument("captions", nargs="+", help="one or more captions")
    parser.add_argument("--model", required=True, help="the onnx/ folder of an exported model")
    parser.add_argument("--n", type=int, default=1, help="images per caption")
    parser.add_argument("--seed", type=int, default=0, help="image k of a caption is drawn from seed + k")
    parser.add_argument("--out", default="generated.png", help="PNG grid to write")
    args = parser.parse_args(argv)
    try:
        if args.n <= 0:
            raise UserError(f"--n must be a positive integer, got {args.n}")
        parent = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(parent):
            raise UserError(f"output directory does not exist: {parent}")
        captions = [caption for caption in args.captions for _ in range(args.n)]
        noise = seed_noise(row_seeds(args.captions, args.n, args.seed), noise_dim(args.model))
        images = to_uint8(onnx_images(args.model, captions, noise))
        image_grid(images, captions, columns=args.n).save(args.out)
    except UserError as error:
        print(f"onnx_generate: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {args.n} image(s) for each of {len(args.captions)} caption(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
