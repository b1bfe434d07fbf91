"""One signature of a loaded SavedModel: its tensor specs, its metadata, and calling it."""

import re

import tensorflow as tf
from tensorflow.core.framework import types_pb2

from tfgan_text.serving.errors import ServingError

PREDICT_METHOD = "tensorflow/serving/predict"
TF_ERROR_STATUS = {tf.errors.InvalidArgumentError: 400, tf.errors.OutOfRangeError: 400}


class Signature:
    """A signature function of a loaded SavedModel, called with numpy arrays by input name.

    Args:
        function: a concrete function from `tf.saved_model.load(path).signatures`.
    """

    def __init__(self, function):
        self.function = function
        self.inputs = function.structured_input_signature[1]
        self.outputs = function.structured_outputs

    def metadata(self):
        """The signature's entry of TF Serving's `signature_def` metadata."""
        input_tensors = dict(zip(sorted(self.inputs), self.function.inputs))
        output_tensors = dict(zip(sorted(self.outputs), self.function.outputs))
        return {
            "inputs": {name: _tensor_info(spec, input_tensors[name].name) for name, spec in sorted(self.inputs.items())},
            "outputs": {name: _tensor_info(spec, output_tensors[name].name) for name, spec in sorted(self.outputs.items())},
            "method_name": PREDICT_METHOD,
        }

    def __call__(self, arrays):
        """The outputs (numpy arrays by name) for `arrays` (numpy arrays by input name).

        An error inside the model is a ServingError: 400 for bad values, 500 otherwise.
        """
        tensors = {name: tf.constant(array, dtype=self.inputs[name].dtype) for name, array in arrays.items()}
        try:
            outputs = self.function(**tensors)
        except tf.errors.OpError as error:
            raise ServingError(TF_ERROR_STATUS.get(type(error), 500), op_error_line(error.message)) from None
        return {name: value.numpy() for name, value in outputs.items()}


def _tensor_info(spec, tensor_name):
    """TF Serving's JSON of a TensorInfo: dtype, shape (-1 for unknown sizes) and graph tensor name."""
    if spec.shape.rank is None:
        shape = {"dim": [], "unknown_rank": True}
    else:
        dims = [{"size": str(-1 if size is None else size), "name": ""} for size in spec.shape.as_list()]
        shape = {"dim": dims, "unknown_rank": False}
    return {"dtype": types_pb2.DataType.Name(spec.dtype.as_datatype_enum), "tensor_shape": shape, "name": tensor_name}


def op_error_line(message):
    """The line of a TensorFlow error that says what went wrong, without graph-execution preamble.

    A graph error reads "Graph execution error:", then where the failing node was defined,
    then the op's message, then "[[{{node ...}}]]"; the op's message is the last plain line.
    An error of a nested function starts with "{{function_node ...}}" and may end with
    "[Op:...]"; both are dropped, and so is the "assertion failed: [...]" around the message
    of a `tf.debugging.Assert`.
    """
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if lines and lines[0] == "Graph execution error:":
        preamble = ("Graph execution error:", "Detected at node", "<stack traces unavailable>", "File ", "[[")
        plain = [line for line in lines if not line.startswith(preamble)]
        line = plain[-1] if plain else ""
    else:
        line = lines[0] if lines else ""
    line = _OP_SUFFIX.sub("", _FUNCTION_NODE_PREFIX.sub("", line))
    assertion = _ASSERTION.fullmatch(line)
    return (assertion.group(1) if assertion else line) or "the model failed"


_FUNCTION_NODE_PREFIX = re.compile(r"^(?:\{\{function_node [^}]*\}\}\s*)+")
_OP_SUFFIX = re.compile(r"\s*\[Op:[^\]]*\]$")
_ASSERTION = re.compile(r"assertion failed: \[(.*)\]")
