"""Word attention maps of an AttnGAN: which place of the image each word of a caption drove.

The work behind `tfgan-text generate --attention-maps FILE`: for each caption, one row per
attentional stage, the generated image and then, for each word, the image with that word's
attention weights over the stage's map laid on it in red (as the figures of Xu et al. 2018).
The model is an AttnGAN run directory (`model.keras`) or an export of one (its `attention`
signature); both give the same maps for the same caption and seed.
"""

import os

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.file_names import MODEL_FILE
from tfgan_text.inference.generate import resolve_model_dir, vocabulary_dir
from tfgan_text.noise import seed_noise
from tfgan_text.text import PyTokenizer

# How strongly the red of the weights covers the image where a word has all the weight.
OVERLAY_STRENGTH = 0.75


def load_attention_drawer(model_dir):
    """`draw(captions, seeds) -> (uint8 images [B, S, S, 3], [maps [B, h, w, T] per stage])`
    of an AttnGAN run or export, and its `PyTokenizer`."""
    import tensorflow as tf

    model_dir = resolve_model_dir(model_dir)
    tokenizer = PyTokenizer.load(vocabulary_dir(model_dir))
    if os.path.isfile(os.path.join(model_dir, MODEL_FILE)):
        import keras

        from tfgan_text.image_grid import to_uint8
        from tfgan_text.models import load_model

        model = load_model(os.path.join(model_dir, MODEL_FILE))
        if not hasattr(model, "stage_outputs") or model.generator.stages < 2:
            raise UserError(f"{model_dir} is not an AttnGAN of two or more stages: it has no word attention maps")

        def draw(captions, seeds):
            noise = seed_noise(seeds, model.generator.noise_dim)
            outputs = model.stage_outputs(tokenizer.encode(captions), noise)
            maps = [keras.ops.convert_to_numpy(weights) for weights in outputs["attention"]]
            return to_uint8(keras.ops.convert_to_numpy(outputs["images"][-1])), maps
    else:
        import tensorflow_text  # noqa: F401  the signature's tokenizer ops

        from tfgan_text.export.versions import latest_version_dir

        signatures = tf.saved_model.load(latest_version_dir(model_dir)).signatures
        if "attention" not in signatures:
            raise UserError(f"{model_dir} is not an AttnGAN export: it has no attention signature")

        def draw(captions, seeds):
            outputs = signatures["attention"](captions=tf.constant(captions), seeds=tf.constant(seeds, tf.int64))
            names = sorted((name for name in outputs if name.startswith("attention_stage_")),
                           key=lambda name: int(name.rsplit("_", 1)[1]))
            return outputs["images"].numpy(), [outputs[name].numpy() for name in names]
    return draw, tokenizer


def overlay(image, weights):
    """uint8 `image` `[S, S, 3]` with a word's `weights` `[h, w]` laid on it in red: a place
    that gives the word all its attention (weight 1) is red, one that ignores it is unchanged;
    the weights are not rescaled, so an attention spread evenly over the words stays faint."""
    size = image.shape[0]
    alpha = np.kron(weights, np.ones((size // weights.shape[0], size // weights.shape[1])))[..., None]
    alpha = OVERLAY_STRENGTH * alpha
    red = np.array([255.0, 0.0, 0.0])
    return np.round(image * (1.0 - alpha) + red * alpha).astype(np.uint8)


def write_attention_maps(model_dir, captions, out, seed=0):
    """Writes the attention maps of `captions` (image i drawn from seed `seed`) as a PNG grid:
    per caption and stage, a row of the image and one overlay per word. Returns the row count."""
    from tfgan_text.image_grid import image_grid

    if not captions:
        raise UserError("give at least one caption")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UserError(f"output directory does not exist: {parent}")
    draw, tokenizer = load_attention_drawer(model_dir)
    images, maps = draw(list(captions), [seed] * len(captions))
    first = 1 if tokenizer.add_start_end else 0  # the column of the first word
    words = [tokenizer.tokens(caption)[: tokenizer.max_length - 2 * first] for caption in captions]
    columns = 1 + max(1, max(len(caption_words) for caption_words in words))
    cells, labels = [], []
    for i, caption in enumerate(captions):
        for stage, weights in enumerate(maps, start=2):
            row = [images[i]] + [overlay(images[i], weights[i, :, :, first + t]) for t in range(len(words[i]))]
            row_labels = [f"stage {stage}: {caption}"] + words[i]
            blank = np.full_like(images[i], 255)
            cells += row + [blank] * (columns - len(row))
            labels += row_labels + [""] * (columns - len(row))
    image_grid(np.stack(cells), labels, columns=columns).save(out)
    return len(captions) * len(maps)
