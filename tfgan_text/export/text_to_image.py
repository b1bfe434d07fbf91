"""Text-to-image exports of a `TextConditionalDCGAN` or an `AttnGAN`: raw captions in, images out.

SavedModel signatures (TF Serving):
  `serving_default(captions: string[B], seeds: int64[B])` -> `images: uint8[B,S,S,3]`, `png_bytes: string[B]`
  `from_noise(captions: string[B], noise: float32[B,Z])` -> the same outputs
  `embed(captions: string[B])` -> `embedding: float32[B,E]`
  `from_token_ids(token_ids: int64[B,T], noise: float32[B,Z])` -> `images: float32[B,S,S,3]` in
      [-1, 1]: the function of the ONNX graph, for clients that tokenize themselves.
  `attention(captions: string[B], seeds: int64[B])` (AttnGAN only) -> `images` (as
      `serving_default`) and `attention_stage_K: float32[B,h,w,T]` for each stage K >= 2: the
      weight of token t (of the padded ids) at each place of the map that stage attends over.

An AttnGAN's images are those of its last stage.

Tokenization runs in the graph (core TF and TF Text ops only, as TF Serving links TF Text's
`ops_lib`); the vocabulary travels as a SavedModel asset. The noise of row i is that of
`seeds[i]` under the package's seed rule (`tfgan_text.noise`, computed in the graph with
integer ops), so the same caption and seed give the same image in every process, on every
machine, and on the command line, ONNX and REST paths.

The ONNX graph (`saved_models/NAME/onnx/model.onnx`) is `from_token_ids`: inputs `token_ids`
int64 `[B, T]` padded with 0 and `noise` float32 `[B, Z]`, output `images` float32
`[B, S, S, 3]` in [-1, 1]; its `config.json` carries the tokenizer's settings and the noise
size.
"""

import keras
import tensorflow as tf

from tfgan_text.errors import UserError
from tfgan_text.export.onnx import OPSET, convert_function, write_onnx_dir
from tfgan_text.models.text_encoder import char_ids
from tfgan_text.noise import seed_noise_tensor
from tfgan_text.text.tokenizer import Tokenizer

SIGNATURES = ("serving_default", "from_noise", "embed", "from_token_ids")
ATTENTION_SIGNATURE = "attention"
ONNX_INPUTS = ("token_ids", "noise")
ONNX_OUTPUT = "images"


def to_uint8_images(images):
    """uint8 pixels of tanh images in [-1, 1] (the rounding of `tfgan_text.image_grid.to_uint8`)."""
    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def image_outputs(images):
    """`{"images": uint8, "png_bytes": string}` of float images in [-1, 1]."""
    pixels = to_uint8_images(images)
    png = tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.TensorSpec([], tf.string))
    return {"images": pixels, "png_bytes": png}


def images_from_ids(model, token_ids, noise):
    """float32 images in [-1, 1] of a text-to-image model for token ids and noise, in inference mode."""
    return model((token_ids, noise), training=False)


def attention_outputs(model, token_ids, noise):
    """`{"images": uint8, "attention_stage_K": [B, h, w, T], ...}` of an AttnGAN (stages K >= 2)."""
    outputs = model.stage_outputs(token_ids, noise)
    maps = {f"attention_stage_{k + 2}": weights for k, weights in enumerate(outputs["attention"])}
    return {"images": to_uint8_images(outputs["images"][-1]), **maps}


def text_to_image_archive(model, vocabulary_dir):
    """A `keras.export.ExportArchive` of a text-to-image model with the four signatures (and
    `attention` for a model of several stages with word attention, an AttnGAN).

    Args:
        model: a trained `TextConditionalDCGAN` or `AttnGAN` (its text encoder and generator
            are exported).
        vocabulary_dir: str, the directory of the model's `vocab.txt` and `tokenizer.json`.

    `from_token_ids` takes the ids the text encoder reads: word ids, or for a char-CNN-RNN
    encoder the char ids of `tfgan_text.models.text_encoder.char_ids`.
    """
    # Reed's char-CNN-RNN reads characters; the word encoders read the vocabulary's ids.
    tokenizer = char_ids if getattr(model.text_encoder, "input_key", None) == "char_ids" else Tokenizer(vocabulary_dir)
    noise_dim = model.generator.noise_dim
    # The variables the endpoints use are saved with them; tracking the networks as well would
    # save every weight a second time, as Keras variables.
    archive = keras.export.ExportArchive()
    if isinstance(tokenizer, Tokenizer):
        archive.track(tokenizer)  # its lookup tables, with vocab.txt as an asset

    captions_spec = tf.TensorSpec([None], tf.string, name="captions")
    noise_spec = tf.TensorSpec([None, noise_dim], tf.float32, name="noise")
    archive.add_endpoint(
        "serving_default",
        lambda captions, seeds: image_outputs(
            images_from_ids(model, tokenizer(captions), seed_noise_tensor(seeds, noise_dim))),
        input_signature=[captions_spec, tf.TensorSpec([None], tf.int64, name="seeds")],
    )
    archive.add_endpoint(
        "from_noise",
        lambda captions, noise: image_outputs(images_from_ids(model, tokenizer(captions), noise)),
        input_signature=[captions_spec, noise_spec],
    )
    archive.add_endpoint(
        "embed",
        lambda captions: {"embedding": model.encode_text(tokenizer(captions), training=False)},
        input_signature=[captions_spec],
    )
    archive.add_endpoint(
        "from_token_ids",
        lambda token_ids, noise: {"images": images_from_ids(model, token_ids, noise)},
        input_signature=[tf.TensorSpec([None, None], tf.int64, name="token_ids"), noise_spec],
    )
    if getattr(model, "stage_outputs", None) and model.generator.stages > 1:
        archive.add_endpoint(
            ATTENTION_SIGNATURE,
            lambda captions, seeds: attention_outputs(model, tokenizer(captions), seed_noise_tensor(seeds, noise_dim)),
            input_signature=[captions_spec, tf.TensorSpec([None], tf.int64, name="seeds")],
        )
    return archive


def convert_to_onnx(model, opset=OPSET):
    """The ONNX `ModelProto` of `model`'s text encoder and generator (`from_token_ids`)."""
    if getattr(model.text_encoder, "input_key", "token_ids") != "token_ids":
        raise UserError("ONNX export takes word-level text encoders (word_rnn); this model reads characters")
    signature = (
        tf.TensorSpec([None, None], tf.int64, name=ONNX_INPUTS[0]),
        tf.TensorSpec([None, model.generator.noise_dim], tf.float32, name=ONNX_INPUTS[1]),
    )
    return convert_function(lambda token_ids, noise: images_from_ids(model, token_ids, noise), signature,
                            [ONNX_OUTPUT], opset)


def onnx_config(model, opset=OPSET):
    """The `config.json` of the ONNX graph, without the tokenizer settings `Vocabulary.save_json` adds."""
    return {
        "format_version": 1,
        "model": {
            "inputs": {"token_ids": ["batch", "tokens"], "noise": ["batch", model.generator.noise_dim]},
            "output": ONNX_OUTPUT,
            "image_size": model.generator.image_size,
            "noise_dim": model.generator.noise_dim,
            "value_range": [-1.0, 1.0],
            "opset": opset,
        },
    }


def writers(model, run_dir, vocabulary, run_settings):
    """`(write the SavedModel into a directory, write onnx/ into a model root)` of a
    `TextConditionalDCGAN` of the run in `run_dir`."""
    archive = text_to_image_archive(model, run_dir)

    def write_onnx(model_root):
        return write_onnx_dir(model_root, convert_to_onnx(model), vocabulary, onnx_config(model), run_settings)

    return (lambda directory: archive.write_out(directory, verbose=False)), write_onnx
