"""`tfgan-text serve`: a local server of versioned SavedModels that speaks TF Serving's REST API.

    python -m tfgan_text.serving.server saved_models --port 8501 --host 127.0.0.1

Routes, as TF Serving's: `GET /v1/models/NAME[/versions/N]` (status),
`GET /v1/models/NAME[/versions/N]/metadata`, `POST /v1/models/NAME[/versions/N]:predict`.
Errors answer `{"error": "..."}` with a 4xx or 5xx status.
"""

import argparse
import contextlib
import json
import logging
import os
import re
import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from tfgan_text.errors import UserError
from tfgan_text.serving.errors import ServingError
from tfgan_text.serving.model_store import ModelStore
from tfgan_text.serving.predict import predict

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
MAX_BODY_BYTES = 32 * 2**20
MAX_BATCH = 256
MODEL_GET_PATH = re.compile(r"(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<metadata>/metadata)?")
MODEL_POST_PATH = re.compile(r"(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?:predict")


class JsonResponse(Response):
    """A JSON answer that writes NaN and infinities as TF Serving does, rather than failing on them."""

    media_type = "application/json"

    def render(self, content):
        return json.dumps(content, separators=(",", ":")).encode("utf-8")


def create_app(base_dir, max_body_bytes=MAX_BODY_BYTES, max_batch=MAX_BATCH, poll_seconds=1.0):
    """The FastAPI app serving the models under `base_dir` (`NAME/VERSION/saved_model.pb`).

    Args:
        base_dir: str. The folder of models; new versions in it are picked up while serving.
        max_body_bytes: int. Larger request bodies are refused with 413.
        max_batch: int. Larger batches are refused with 400.
        poll_seconds: float. Seconds between two looks for new or removed versions.
    """
    store = ModelStore(base_dir, poll_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(store.start)
        yield
        await run_in_threadpool(store.stop)

    app = FastAPI(title="tfgan-text serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(ServingError, _serving_error_response)
    app.add_exception_handler(HTTPException, _http_error_response)
    app.add_exception_handler(Exception, _internal_error_response)

    @app.get("/v1/models/{model_path:path}")
    def model_status_or_metadata(model_path: str):
        match = _match(MODEL_GET_PATH, model_path, "GET")
        name, version = match["name"], _version(match)
        if match["metadata"]:
            return JsonResponse(_metadata(name, store.get(name, version)))
        versions = [store.get(name, version).version] if version is not None else store.versions(name)
        return JsonResponse(_status(versions))

    @app.post("/v1/models/{model_path:path}")
    async def model_predict(model_path: str, request: Request):
        match = _match(MODEL_POST_PATH, model_path, "POST")
        body = await _read_body(request, max_body_bytes)
        loaded = store.get(match["name"], _version(match))
        return JsonResponse(await run_in_threadpool(predict, body, loaded.signatures, max_batch))

    return app


def serve(base_dir, host=DEFAULT_HOST, port=DEFAULT_PORT, max_body_bytes=MAX_BODY_BYTES, max_batch=MAX_BATCH):
    """Serves the models under `base_dir` on http://host:port until interrupted (blocking)."""
    if not os.path.isdir(base_dir):
        raise UserError(f"{base_dir} is not a folder of models (NAME/VERSION/saved_model.pb)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    uvicorn.run(create_app(base_dir, max_body_bytes, max_batch), host=host, port=port, log_level="info")


def _match(pattern, model_path, method):
    """The route's parts; 404 for a path that is not one of TF Serving's."""
    match = pattern.fullmatch(model_path)
    if match is None:
        raise ServingError(404, f"malformed request: {method} /v1/models/{model_path}")
    return match


def _version(match):
    """The `/versions/N` of a route as an int, None when absent."""
    return None if match["version"] is None else int(match["version"])


async def _read_body(request, max_body_bytes):
    """The request body; 413 once it (or its declared Content-Length) is over `max_body_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise ServingError(413, f"the body of {declared} bytes exceeds the server's limit of {max_body_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise ServingError(413, f"the body exceeds the server's limit of {max_body_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _status(versions):
    """TF Serving's model status answer for loaded `versions`."""
    return {
        "model_version_status": [
            {"version": str(version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for version in versions
        ]
    }


def _metadata(name, loaded):
    """TF Serving's metadata answer: the model spec and every signature's inputs and outputs."""
    signature_defs = {signature_name: signature.metadata() for signature_name, signature in loaded.signatures.items()}
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
        "metadata": {"signature_def": {"signature_def": signature_defs}},
    }


async def _serving_error_response(request, error):
    return JsonResponse({"error": error.message}, status_code=error.status_code)


async def _http_error_response(request, error):
    return JsonResponse({"error": f"{error.detail}: {request.method} {request.url.path}"}, status_code=error.status_code)


async def _internal_error_response(request, error):
    return JsonResponse({"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500)


def main(argv=None):
    """`python -m tfgan_text.serving.server BASE_DIR [--port P] [--host H]`."""
    parser = argparse.ArgumentParser(prog="tfgan_text.serving.server", description=__doc__.splitlines()[0])
    parser.add_argument("base_dir", help="folder of models: NAME/VERSION/saved_model.pb")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}, loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"REST port (default {DEFAULT_PORT})")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES, help="larger bodies get 413")
    parser.add_argument("--max-batch", type=int, default=MAX_BATCH, help="larger batches get 400")
    args = parser.parse_args(argv)
    try:
        serve(args.base_dir, args.host, args.port, args.max_body_bytes, args.max_batch)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
