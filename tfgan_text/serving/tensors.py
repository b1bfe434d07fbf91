"""JSON values to numpy arrays of a signature's dtype, and output arrays back to JSON."""

import numpy as np
import tensorflow as tf

from tfgan_text.serving import b64
from tfgan_text.serving.errors import ServingError

BYTES_SUFFIX = "_bytes"


def array_from_json(name, value, dtype):
    """A numpy array of `dtype` (a tf.DType) from the JSON `value` of input `name`.

    Strings are UTF-8 text or `{"b64": ...}`; numbers must fit the dtype. Any mismatch is a
    400 ServingError naming the input.
    """
    shape = _shape(name, value)
    leaves = list(_leaves(value))
    if dtype == tf.string:
        return np.array([_string_bytes(name, leaf) for leaf in leaves], dtype=object).reshape(shape)
    if dtype.is_bool:
        _check_leaves(name, leaves, dtype, lambda leaf: isinstance(leaf, bool))
    elif dtype.is_integer:
        _check_leaves(name, leaves, dtype, lambda leaf: isinstance(leaf, int) and not isinstance(leaf, bool))
        out_of_range = [leaf for leaf in leaves if not dtype.min <= leaf <= dtype.max]
        if out_of_range:
            raise ServingError(400, f"input {name!r}: {out_of_range[0]} is out of the range of {dtype.name}")
    elif dtype.is_floating:
        _check_leaves(name, leaves, dtype, lambda leaf: isinstance(leaf, (int, float)) and not isinstance(leaf, bool))
    else:
        raise ServingError(400, f"input {name!r} has dtype {dtype.name}, which JSON requests cannot carry")
    return np.array(leaves, dtype=dtype.as_numpy_dtype).reshape(shape)


def json_from_array(name, array):
    """The JSON value of output `name`: strings as text, or as `{"b64": ...}` when the name ends in `_bytes`."""
    if array.dtype != object:
        return array.tolist()
    to_json = b64.encode if name.endswith(BYTES_SUFFIX) else lambda data: data.decode("utf-8", errors="replace")
    return _map_leaves(array.tolist(), to_json)


def _shape(name, value):
    """The shape of nested JSON lists; a 400 ServingError when they are ragged."""
    if not isinstance(value, list):
        return ()
    if not value:
        return (0,)
    shapes = {_shape(name, item) for item in value}
    if len(shapes) > 1:
        raise ServingError(400, f"input {name!r} is ragged: its lists have different lengths")
    return (len(value),) + shapes.pop()


def _leaves(value):
    """The non-list values of nested JSON lists, in row-major order."""
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _string_bytes(name, leaf):
    """The bytes of a string input's value: UTF-8 of text, or the decoded `{"b64": ...}`."""
    if isinstance(leaf, str):
        return leaf.encode("utf-8")
    if b64.is_b64(leaf):
        try:
            return b64.decode(leaf)
        except ValueError as error:
            raise ServingError(400, f"input {name!r}: {error}") from None
    raise ServingError(400, f"input {name!r} takes strings (text or {{\"b64\": ...}}), got {_describe(leaf)}")


def _check_leaves(name, leaves, dtype, accepts):
    """A 400 ServingError naming the first value that `dtype` does not accept."""
    for leaf in leaves:
        if not accepts(leaf):
            raise ServingError(400, f"input {name!r} takes {dtype.name} values, got {_describe(leaf)}")


def _describe(leaf):
    """A short description of a JSON value for an error message."""
    text = repr(leaf)
    return f"{type(leaf).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _map_leaves(value, function):
    """Nested lists with `function` applied to every leaf."""
    if isinstance(value, list):
        return [_map_leaves(item, function) for item in value]
    return function(value)
