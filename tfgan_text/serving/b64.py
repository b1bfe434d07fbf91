"""Binary values in TF Serving's JSON: `{"b64": "<base64>"}` objects, in and out."""

import base64
import binascii

import numpy as np


def is_b64(value):
    """Whether `value` is a JSON binary value: an object whose one key is "b64"."""
    return isinstance(value, dict) and list(value) == ["b64"]


def encode(data):
    """`{"b64": ...}` for `data` (bytes)."""
    return {"b64": base64.b64encode(data).decode("ascii")}


def decode(value):
    """The bytes of a `{"b64": ...}` value; ValueError when its text is not standard base64."""
    text = value["b64"]
    if not isinstance(text, str):
        raise ValueError(f"a b64 value must be a string, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"invalid base64 ({error})") from None


def encode_nested(value):
    """`value` with every bytes leaf as `{"b64": ...}` and numpy values as plain JSON values."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return encode(value)
    if isinstance(value, dict):
        return {key: encode_nested(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_nested(item) for item in value]
    return value


def decode_nested(value):
    """`value` with every `{"b64": ...}` object turned back into bytes."""
    if is_b64(value):
        return decode(value)
    if isinstance(value, dict):
        return {key: decode_nested(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_nested(item) for item in value]
    return value
