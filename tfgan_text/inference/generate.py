"""Images from captions with a trained text-to-image model: the work behind `tfgan-text generate`.

Image k of a caption's `--n` images is drawn from seed `--seed` + k (`tfgan_text.noise`), as
the SavedModel's `serving_default`, the REST server and `onnx_generate` draw it.
"""

import os

from tfgan_text.errors import UserError
from tfgan_text.export.versions import latest_version_dir
from tfgan_text.file_names import EXTRA_DIR, MODEL_FILE
from tfgan_text.noise import image_seeds, seed_noise
from tfgan_text.text import PyTokenizer

DEMO_MODEL = os.path.join("saved_models", "dcgan_shapes")


def resolve_model_dir(model, demo=DEMO_MODEL):
    """The directory of a model: the given one, or the shipped demo model by default.

    A model directory holds `model.keras` and its vocabulary (a run directory), or is an
    exported model `saved_models/NAME/` with integer versions (the highest is used). The demo
    (`demo`, a path relative to the working directory, `saved_models/dcgan_shapes` unless
    another command names its own) is looked up in `./saved_models/` and then beside the
    package's source checkout.
    """
    if model is not None:
        candidates = [model]
    else:
        checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        candidates = [demo, os.path.join(checkout, demo)]
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, MODEL_FILE)) or latest_version_dir(candidate):
            return candidate
    if model is None:
        raise UserError(f"the demo model {demo} is not here; pass --model RUN_DIR")
    raise UserError(
        f"{model} holds no trained model ({MODEL_FILE}) and no exported version; pass a run directory after training ends"
    )


def vocabulary_dir(model_dir):
    """Where a model's vocabulary lies: the run directory, or its highest export's `assets.extra`."""
    if os.path.isfile(os.path.join(model_dir, MODEL_FILE)):
        return model_dir
    return os.path.join(latest_version_dir(model_dir), EXTRA_DIR)


def caption_notes(tokenizer, captions):
    """One line for each caption the model cannot take as it is (empty, unknown, too long)."""
    notes = []
    for number, caption in enumerate(captions, start=1):
        words = tokenizer.tokens(caption)
        known = [word for word in words if word in tokenizer.vocabulary]
        label = f"caption {number}"
        limit = tokenizer.max_length - (2 if tokenizer.add_start_end else 0)
        if not words:
            notes.append(f"{label} has no words: the image is drawn from the empty caption")
        elif not known:
            notes.append(f"{label}: none of its {len(words)} words is in the model's vocabulary: drawn as unknown words")
        if len(words) > limit:
            notes.append(f"{label}: truncated at {limit} of its {len(words)} tokens")
    return notes


def row_seeds(captions, per_caption, seed):
    """The seed of every image, caption-major: each caption's images have seeds `seed, seed + 1, ...`."""
    return [row for _ in captions for row in image_seeds(seed, per_caption)]


class ImageDrawer:
    """A text-to-image model loaded once: `drawer(captions, seeds)` gives uint8 images
    `[len(captions), S, S, 3]`, image i drawn from `seeds[i]` by the seed rule.

    The model is a run directory (`model.keras`, the Keras model) or an exported model
    `saved_models/NAME/` (its highest version's `serving_default`): the same images either way.

    Attributes:
        model_dir: the resolved directory.
        tokenizer: its `PyTokenizer` (for `caption_notes`).
        image_size: int, S.
    """

    def __init__(self, model_dir=None):
        import keras
        import tensorflow as tf

        from tfgan_text.image_grid import to_uint8

        self.model_dir = resolve_model_dir(model_dir)
        self.tokenizer = PyTokenizer.load(vocabulary_dir(self.model_dir))
        if os.path.isfile(os.path.join(self.model_dir, MODEL_FILE)):
            from tfgan_text.models import load_model
            from tfgan_text.text.tokenizer import Tokenizer

            model = load_model(os.path.join(self.model_dir, MODEL_FILE))
            tokenize = Tokenizer(self.model_dir)
            self.image_size = int(model.generator.image_size)

            def draw(captions, seeds):
                noise = seed_noise(seeds, model.generator.noise_dim)
                return to_uint8(keras.ops.convert_to_numpy(model.generate(tokenize(tf.constant(captions)), noise=noise)))
        else:
            import tensorflow_text  # noqa: F401  the signature's tokenizer ops

            serving_default = tf.saved_model.load(latest_version_dir(self.model_dir)).signatures["serving_default"]
            self.image_size = int(serving_default.structured_outputs["images"].shape[1])

            def draw(captions, seeds):
                return serving_default(captions=tf.constant(captions), seeds=tf.constant(seeds, tf.int64))["images"].numpy()
        self._draw = draw

    def __call__(self, captions, seeds):
        return self._draw(list(captions), list(seeds))


def generate_images(model_dir, captions, per_caption=1, seed=0):
    """uint8 images `[len(captions) * per_caption, S, S, 3]`, caption-major, and the notes."""
    drawer = ImageDrawer(model_dir)
    repeated = [caption for caption in captions for _ in range(per_caption)]
    return drawer(repeated, row_seeds(captions, per_caption, seed)), caption_notes(drawer.tokenizer, captions)


def generate_grid(model_dir, captions, out, per_caption=1, seed=0):
    """Writes a PNG grid, one row per caption, and returns notes on the captions."""
    from tfgan_text.image_grid import image_grid

    if not captions:
        raise UserError("give at least one caption")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UserError(f"output directory does not exist: {parent}")
    images, notes = generate_images(model_dir, captions, per_caption, seed)
    labels = [caption for caption in captions for _ in range(per_caption)]
    image_grid(images, labels, columns=per_caption).save(out)
    return notes
