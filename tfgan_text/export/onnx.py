"""ONNX export of a text-to-image generator: token ids and noise in, images out.

`saved_models/NAME/onnx/` holds `model.onnx` (inputs `token_ids` int64 `[B, T]` padded with 0,
`noise` float32 `[B, Z]`; output `images` float32 `[B, S, S, 3]` in [-1, 1]), `vocab.json` and
`config.json`, which `tfgan_text.text.PyTokenizer.load` reads to tokenize captions without
TensorFlow. The graph is converted by `tf2onnx.convert.from_function` (not `from_keras`,
unreliable with Keras 3); random ops do not convert, so noise is an input.
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf

from tfgan_text.errors import UserError
from tfgan_text.export.saved_model import images_from_ids
from tfgan_text.text.vocabulary import Vocabulary

ONNX_DIR = "onnx"
ONNX_FILE = "model.onnx"
OPSET = 17
INPUT_NAMES = ("token_ids", "noise")
OUTPUT_NAME = "images"


def _rename_output(model_proto, name):
    """Names the graph's single output `name` (tf2onnx names it after the TF tensor)."""
    graph = model_proto.graph
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [name if output == old else output for output in node.output]
        node.input[:] = [name if value == old else value for value in node.input]
    graph.output[0].name = name


def convert(model, opset=OPSET):
    """The ONNX `ModelProto` of `model`'s text encoder and generator (a `TextConditionalDCGAN`)."""
    import onnx
    import tf2onnx

    if getattr(model.text_encoder, "input_key", "token_ids") != "token_ids":
        raise UserError("ONNX export takes word-level text encoders (word_rnn); this model reads characters")

    signature = (
        tf.TensorSpec([None, None], tf.int64, name=INPUT_NAMES[0]),
        tf.TensorSpec([None, model.generator.noise_dim], tf.float32, name=INPUT_NAMES[1]),
    )
    model_proto, _ = tf2onnx.convert.from_function(
        tf.function(lambda token_ids, noise: images_from_ids(model, token_ids, noise)), input_signature=signature, opset=opset
    )
    _rename_output(model_proto, OUTPUT_NAME)
    onnx.checker.check_model(model_proto)
    return model_proto


def onnx_config(model, vocabulary, opset=OPSET):
    """The contents of `config.json`: the tokenizer's settings and the graph's inputs and output."""
    return {
        "format_version": 1,
        "tokenizer": vocabulary.settings(),
        "model": {
            "inputs": {"token_ids": ["batch", "tokens"], "noise": ["batch", model.generator.noise_dim]},
            "output": OUTPUT_NAME,
            "image_size": model.generator.image_size,
            "noise_dim": model.generator.noise_dim,
            "value_range": [-1.0, 1.0],
            "opset": opset,
        },
    }


def export_onnx(model, vocabulary_dir, model_root, opset=OPSET):
    """Writes `model_root/onnx/` (`model.onnx`, `vocab.json`, `config.json`) and returns its path.

    The directory is built beside its place and swapped in whole, so a reader sees the old
    files or the new ones, never a mix.
    """
    vocabulary = Vocabulary.coerce(vocabulary_dir)
    return write_onnx_dir(model_root, convert(model, opset), vocabulary, onnx_config(model, vocabulary, opset))


def write_onnx_dir(model_root, model_proto, vocabulary, config):
    """Writes `model_root/onnx/`: `model.onnx` of `model_proto`, then `vocab.json` and `config.json`
    (`config` with the tokenizer settings) of `vocabulary`; returns its path.

    The directory is built beside its place and swapped in whole, so a reader sees the old
    files or the new ones, never a mix.
    """
    target = os.path.join(model_root, ONNX_DIR)
    try:
        os.makedirs(model_root, exist_ok=True)
        temporary = tempfile.mkdtemp(prefix=".tmp-onnx-", dir=model_root)
    except OSError as error:
        raise UserError(f"cannot write in {model_root}: {error.strerror or error}") from None
    try:
        with open(os.path.join(temporary, ONNX_FILE), "wb") as file:
            file.write(model_proto.SerializeToString())
        vocabulary.save_json(temporary, config)
        os.chmod(temporary, 0o755)
        if os.path.exists(target):
            retired = tempfile.mkdtemp(prefix=".old-onnx-", dir=model_root)
            os.rename(target, os.path.join(retired, ONNX_DIR))
            os.rename(temporary, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(temporary, target)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise UserError(f"cannot write {target}: {error.strerror or error}") from None
    return target
