"""Captions for image files with ONNX Runtime alone: no TensorFlow, no Keras.

    python -m tfgan_text.inference.onnx_caption --model saved_models/shapes_captioner/onnx IMAGE...

Greedy search (the exported graph's loop). Prints what `tfgan-text caption` prints: for each image,
in order, `PATH<TAB>caption` on stdout or one line `onnx_caption: error: PATH: reason` on stderr;
exit status 2 when any image failed. Needs only onnxruntime, numpy, Pillow and the package's
pure-Python tokenizer, which reads the `vocab.json` and `config.json` beside `model.onnx`.

Images are read by Pillow (any format it opens), converted to RGB (grayscale repeated, alpha
dropped, as the SavedModel does) and resized to the model's S x S with Pillow's antialiased
bilinear filter: the SavedModel's `tf.image.resize(antialias=True)` may differ from it by a
pixel value here and there, so a caption can differ on images that are not S x S.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.file_names import ONNX_CONFIG_FILE, ONNX_FILE
from tfgan_text.text import PyTokenizer

DEFAULT_MAX_PIXELS = 100_000_000
BATCH_SIZE = 16


def read_config(model_dir):
    """The `"model"` entry of the exported graph's `config.json` (image size, max_length, ...)."""
    path = os.path.join(model_dir, ONNX_CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)["model"]
        int(config["image_size"])
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path}: not the config.json of an exported captioner") from None
    if config.get("kind") != "captioner":
        raise UserError(f"{model_dir} holds no exported captioner (its config.json is of another model)")
    return config


def load_image(path, size, max_pixels=DEFAULT_MAX_PIXELS):
    """float32 `[size, size, 3]` in [-1, 1] of an image file; `UserError` (one line) when it cannot be read."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise UserError(f"{path}: the image is {width} x {height} pixels, over the limit of {max_pixels} pixels")
                image = _to_rgb(image)
                image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    except Image.DecompressionBombError:
        raise UserError(f"{path}: the image is over the limit of {max_pixels} pixels") from None
    except Image.UnidentifiedImageError:
        raise UserError(f"{path}: not an image Pillow can read") from None
    except OSError as error:  # a missing file, a directory, or bytes cut short
        raise UserError(f"{path}: {error.strerror or error}") from None
    except (ValueError, SyntaxError) as error:  # Pillow's plugins raise these on malformed headers
        raise UserError(f"{path}: a corrupt image ({error})") from None
    return np.asarray(image, np.float32) / 127.5 - 1.0


def _to_rgb(image):
    """RGB of any Pillow mode; 16-bit grayscale keeps its high byte, as TensorFlow's decoder does."""
    if image.mode in ("I;16", "I;16B", "I;16L"):
        from PIL import Image

        image = Image.fromarray((np.asarray(image, np.uint16) >> 8).astype(np.uint8), "L")
    return image.convert("RGB")


class OnnxCaptioner:
    """Greedy captions of float images with the exported ONNX graph and the pure-Python tokenizer.

    Args:
        model_dir: str, the `onnx/` folder of an exported captioner.

    Example:
        captioner = OnnxCaptioner("saved_models/shapes_captioner/onnx")
        captions = captioner(np.stack([load_image("cat.png", captioner.image_size)]))
    """

    def __init__(self, model_dir):
        import onnxruntime

        self.config = read_config(model_dir)
        self.image_size = int(self.config["image_size"])
        self.max_pixels = int(self.config.get("max_pixels", DEFAULT_MAX_PIXELS))
        path = os.path.join(model_dir, ONNX_FILE)
        if not os.path.isfile(path):
            raise UserError(f"no {ONNX_FILE} in {model_dir}; export one with `tfgan-text export RUN --name NAME --onnx`")
        self.tokenizer = PyTokenizer.load(model_dir)
        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])

    def token_ids(self, images):
        """`(token_ids int64 [B, L], log_prob float32 [B])` of images float32 `[B, S, S, 3]` in [-1, 1]."""
        token_ids, log_prob = self.session.run(["token_ids", "log_prob"], {"images": np.asarray(images, np.float32)})
        return token_ids, log_prob

    def __call__(self, images):
        """The captions (list of str) of images float32 `[B, S, S, 3]` in [-1, 1]."""
        return self.tokenizer.detokenize(self.token_ids(images)[0])


def caption_files(model_dir, paths):
    """Yields `(path, caption, None)` or `(path, None, error line)` for each of `paths`, in order."""
    captioner = OnnxCaptioner(model_dir)
    for start in range(0, len(paths), BATCH_SIZE):
        results, images = [], []
        for path in paths[start : start + BATCH_SIZE]:
            try:
                images.append(load_image(path, captioner.image_size, captioner.max_pixels))
                results.append((path, None, None))
            except UserError as error:
                results.append((path, None, str(error)))
        captions = iter(captioner(np.stack(images)) if images else [])
        for path, _, error in results:
            yield (path, None, error) if error else (path, next(captions), None)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tfgan_text.inference.onnx_caption", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--model", required=True, help="the onnx/ folder of an exported captioner")
    args = parser.parse_args(argv)
    failed = 0
    try:
        for path, caption, error in caption_files(args.model, args.images):
            if error is None:
                print(f"{path}\t{caption}", flush=True)
            else:
                failed += 1
                print(f"onnx_caption: error: {error}", file=sys.stderr, flush=True)
    except UserError as error:
        print(f"onnx_caption: error: {error}", file=sys.stderr)
        return 2
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
