"""Keras models, one file per model: `text_to_image/`, `image_to_text/`, and the text and image
encoders both use. Import a model's module to use it; `load_model` loads any."""

import importlib
import os

from tfgan_text.errors import UserError

MODEL_MODULES = (
    "text_encoder",
    "image_encoder",
    "backbone_image_encoder",
    "joint_embedding",
    "text_to_image.dcgan",
    "text_to_image.dcgan_networks",
    "text_to_image.attngan",
    "text_to_image.attngan_networks",
    "text_to_image.encoder_discriminator",
    "text_to_image.generator_terms",
    "image_to_text.captioner",
    "image_to_text.caption_discriminator",
    "image_to_text.seqgan",
    "image_to_text.gumbel",
)


def load_model(path):
    """Loads a `.keras` file of any of the package's models (their classes registered first),
    computing in the global dtype policy whatever policy it was saved in
    (`mixed_precision.in_global_policy`): float32 outside a mixed-precision run."""
    for module in MODEL_MODULES:
        importlib.import_module(f"tfgan_text.models.{module}")
    import keras

    from tfgan_text.models.mixed_precision import in_global_policy

    if not os.path.isfile(path):
        raise UserError(f"no model file {path}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path} is not a readable model of this package: {first_line}") from None
    return in_global_policy(model)
