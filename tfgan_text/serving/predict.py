"""TF Serving's `:predict` over JSON: the request's row or columnar form in, the same form out."""

import json

from tfgan_text.serving import b64
from tfgan_text.serving.errors import ServingError
from tfgan_text.serving.tensors import array_from_json, json_from_array

DEFAULT_SIGNATURE = "serving_default"
BODY_KEYS = ("signature_name", "instances", "inputs")


def predict(body, signatures, max_batch):
    """The JSON answer to a `:predict` request `body` (bytes) for a model's `signatures`.

    Row form `{"instances": [...]}` answers `{"predictions": [...]}`; columnar form
    `{"inputs": ...}` answers `{"outputs": ...}`. A bad request is a 400 ServingError.
    """
    request = _parse_json(body)
    signature = _signature(request, signatures)
    row_form = "instances" in request
    if row_form:
        values = _columns_from_rows(request["instances"], signature, max_batch)
    else:
        values = _named(request["inputs"], signature, "'inputs'")
    arrays = {name: array_from_json(name, value, signature.inputs[name].dtype) for name, value in values.items()}
    _check_shapes(arrays, signature, max_batch)
    outputs = {name: json_from_array(name, array) for name, array in signature(arrays).items()}
    if row_form:
        return {"predictions": _rows(outputs)}
    return {"outputs": _single_or_all(outputs)}


def _parse_json(body):
    """The request object, with exactly one of "instances" and "inputs"."""
    try:
        request = json.loads(body)
    except ValueError as error:
        raise ServingError(400, f"malformed JSON body: {error}") from None
    if not isinstance(request, dict):
        raise ServingError(400, "the body must be a JSON object with 'instances' or 'inputs'")
    unknown = sorted(set(request) - set(BODY_KEYS))
    if unknown:
        raise ServingError(400, f"unknown key {unknown[0]!r} in the body; it takes signature_name and instances or inputs")
    if ("instances" in request) == ("inputs" in request):
        raise ServingError(400, "the body needs exactly one of 'instances' (row form) and 'inputs' (columnar form)")
    return request


def _signature(request, signatures):
    """The signature the request names, `serving_default` when it names none."""
    name = request.get("signature_name") or DEFAULT_SIGNATURE
    if not isinstance(name, str):
        raise ServingError(400, f"signature_name must be a string, got {type(name).__name__}")
    if name not in signatures:
        raise ServingError(400, f"the model has no signature {name!r}; it has {', '.join(sorted(signatures))}")
    return signatures[name]


def _columns_from_rows(instances, signature, max_batch):
    """The values of each input, gathered over the instances (named objects, or bare values for one input)."""
    if not isinstance(instances, list) or not instances:
        raise ServingError(400, "'instances' must be a non-empty list, one entry per example")
    if len(instances) > max_batch:
        raise ServingError(400, f"a batch of {len(instances)} instances exceeds the server's limit of {max_batch}")
    rows = [_named(instance, signature, f"instance {index}") for index, instance in enumerate(instances)]
    return {name: [row[name] for row in rows] for name in signature.inputs}


def _named(value, signature, where):
    """`value` as {input name: value}: an object keyed by the inputs, or a bare value for a single input."""
    names = sorted(signature.inputs)
    if not isinstance(value, dict) or b64.is_b64(value):
        if len(names) != 1:
            raise ServingError(400, f"{where} must be an object of the signature's inputs: {', '.join(names)}")
        return {names[0]: value}
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ServingError(400, f"{where} has unknown input {unknown[0]!r}; the signature takes {', '.join(names)}")
    missing = [name for name in names if name not in value]
    if missing:
        raise ServingError(400, f"{where} lacks input {missing[0]!r}; the signature takes {', '.join(names)}")
    return value


def _check_shapes(arrays, signature, max_batch):
    """Shapes that fit the signature, one batch size for all inputs, within `max_batch`."""
    for name, array in arrays.items():
        shape = signature.inputs[name].shape
        if not shape.is_compatible_with(array.shape):
            expected = [-1 if size is None else size for size in shape.as_list()] if shape.rank is not None else "any"
            raise ServingError(400, f"input {name!r} has shape {list(array.shape)}; the signature takes {expected}")
    batch_sizes = {name: array.shape[0] for name, array in arrays.items() if array.ndim}
    if len(set(batch_sizes.values())) > 1:
        sizes = ", ".join(f"{name} {size}" for name, size in sorted(batch_sizes.items()))
        raise ServingError(400, f"the inputs have different batch sizes: {sizes}")
    batch = max(batch_sizes.values(), default=0)
    if batch > max_batch:
        raise ServingError(400, f"a batch of {batch} exceeds the server's limit of {max_batch}")


def _rows(outputs):
    """Row form: one entry per example, a bare value for a single output, else an object of outputs."""
    batch_sizes = {len(value) if isinstance(value, list) else None for value in outputs.values()}
    if len(batch_sizes) != 1 or None in batch_sizes:
        raise ServingError(400, "the outputs do not share a batch dimension; ask in columnar form ('inputs')")
    batch = batch_sizes.pop()
    return [_single_or_all({name: value[index] for name, value in outputs.items()}) for index in range(batch)]


def _single_or_all(values):
    """The one value of a single-entry mapping, or the mapping itself."""
    return next(iter(values.values())) if len(values) == 1 else values
