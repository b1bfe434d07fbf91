#!/usr/bin/env bash
# Example REST requests to TF Serving (docker-compose.yml) or `tfgan-text serve saved_models`:
# both answer the same. Run: bash serving/requests/curl.sh [http://127.0.0.1:8501] [dcgan_shapes]
set -euo pipefail
URL="${1:-http://127.0.0.1:8501}"
MODEL="${2:-dcgan_shapes}"
API="$URL/v1/models/$MODEL"

# Status of the served (latest) version:
# {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
curl -s "$API"; echo
# Status of one version: the same, for version 1 only.
curl -s "$API/versions/1"; echo

# Signatures with their inputs and outputs:
# {"model_spec": {"name": "dcgan_shapes", "signature_name": "", "version": "1"},
#  "metadata": {"signature_def": {"signature_def": {"serving_default": {"inputs": {"captions": {"dtype": "DT_STRING",
#  "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": false}, "name": "..."}, ...}, ...}, ...}}}}
curl -s "$API/metadata"; echo

# serving_default, row form: one instance per image, the same seed gives the same image.
# {"predictions": [{"images": [[[r, g, b], ...], ...], "png_bytes": {"b64": "iVBORw0KGgo..."}}, ...]}
curl -s -X POST "$API:predict" -d '{
  "instances": [
    {"captions": "a small red circle", "seeds": 0},
    {"captions": "a large blue square", "seeds": 1}
  ]
}'; echo

# serving_default, columnar form: one list per input.
# {"outputs": {"images": [[[[r, g, b], ...], ...], ...], "png_bytes": [{"b64": "iVBORw0KGgo..."}, ...]}}
curl -s -X POST "$API:predict" -d '{
  "inputs": {"captions": ["a small red circle", "a large blue square"], "seeds": [0, 1]}
}'; echo

# A caption given as bytes: {"b64": base64 of UTF-8}; "YSByZWQgY2lyY2xl" is "a red circle".
# {"predictions": [{"images": [...], "png_bytes": {"b64": "..."}}]}
curl -s -X POST "$API:predict" -d '{
  "instances": [{"captions": {"b64": "YSByZWQgY2lyY2xl"}, "seeds": 7}]
}'; echo

# from_noise: the generator's noise given directly (100 values per image here; the model's Z
# is in the metadata). {"outputs": {"images": [...], "png_bytes": [{"b64": "..."}]}}
NOISE=$(python3 -c 'print([0.0] * 100)')
curl -s -X POST "$API:predict" -d "{
  \"signature_name\": \"from_noise\",
  \"inputs\": {\"captions\": [\"a small red circle\"], \"noise\": [$NOISE]}
}"; echo

# embed: the caption's embedding; one output, so each prediction is the bare vector.
# {"predictions": [[0.12, -0.03, ...], [...]]}
curl -s -X POST "$API:predict" -d '{
  "signature_name": "embed",
  "instances": ["a small red circle", "a large blue square"]
}'; echo

# A pinned version, any signature: the same answers from version 1.
# {"predictions": [[0.12, -0.03, ...]]}
curl -s -X POST "$API/versions/1:predict" -d '{"signature_name": "embed", "instances": ["a green triangle"]}'; echo

# Errors are {"error": "..."} with a 4xx status, e.g. an unknown signature (400):
# {"error": "the model has no signature 'nope'; it has embed, from_noise, serving_default"}
curl -s -X POST "$API:predict" -d '{"signature_name": "nope", "instances": ["a"]}'; echo
