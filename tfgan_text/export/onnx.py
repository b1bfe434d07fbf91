"""ONNX graphs of exported models: conversion by tf2onnx and the `saved_models/NAME/onnx/` folder.

The graphs are converted by `tf2onnx.convert.from_function` (not `from_keras`, unreliable with
Keras 3) at opset 17; random ops do not convert, so noise is a graph input. The folder holds
`model.onnx`, `vocab.json` and `config.json` (which `tfgan_text.text.PyTokenizer.load` reads to
tokenize without TensorFlow) and the run's `run.json`. What each graph takes and gives is in
`tfgan_text.export.text_to_image` and `tfgan_text.export.image_to_text`.
"""

import os
import shutil
import tempfile

import tensorflow as tf

from tfgan_text.errors import UserError
from tfgan_text.file_names import ONNX_DIR, ONNX_FILE
from tfgan_text.training.run_dir import write_settings

OPSET = 17


def convert_function(function, input_signature, output_names, opset=OPSET):
    """The checked ONNX `ModelProto` of a Python function of tensors, its outputs named `output_names`."""
    import onnx
    import tf2onnx

    model_proto, _ = tf2onnx.convert.from_function(tf.function(function), input_signature=input_signature, opset=opset)
    _rename_outputs(model_proto, output_names)
    onnx.checker.check_model(model_proto)
    return model_proto


def _rename_outputs(model_proto, names):
    """Names the graph's outputs `names`, in order (tf2onnx names them after the TF tensors)."""
    graph = model_proto.graph
    renames = {output.name: name for output, name in zip(graph.output, names)}
    for node in graph.node:
        node.output[:] = [renames.get(output, output) for output in node.output]
        node.input[:] = [renames.get(value, value) for value in node.input]
    for output in graph.output:
        output.name = renames.get(output.name, output.name)


def write_onnx_dir(model_root, model_proto, vocabulary, config, run_settings=None):
    """Writes `model_root/onnx/`: `model.onnx` of `model_proto`, `vocab.json` and `config.json`
    (`config` with the tokenizer settings) of `vocabulary`, and `run.json` (`run_settings`, the
    run's settings, when known); returns its path.

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
        if run_settings is not None:
            write_settings(temporary, run_settings)
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

