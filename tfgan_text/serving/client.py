"""A REST client of one model on TF Serving or on `tfgan-text serve` (both speak the same API)."""

import io
import time

import numpy as np
import requests
from PIL import Image

from tfgan_text.serving import b64
from tfgan_text.serving.errors import ServingError

RETRIED_STATUS = 503


class Client:
    """Status, metadata and predictions of one served model, over TF Serving's REST API.

    Bytes go out as `{"b64": ...}` and `{"b64": ...}` values come back as bytes. A 503 answer
    or a failed connection is retried with exponential backoff; any other error is raised at
    once as a `ServingError` carrying the server's `{"error": ...}` text.

    Args:
        url: str. The server, e.g. "http://127.0.0.1:8501".
        model: str. The model's name, the folder under the server's base path.
        version: int or None. A specific version; None for the one the server serves by default.
        timeout: float. Seconds to wait for an answer to one request.
        retries: int. Further tries after a 503 or a failed connection.
        backoff: float. Seconds before the first retry; each further retry waits twice as long.

    Example:
        client = Client("http://127.0.0.1:8501", "dcgan_shapes")
        images = client.generate(["a small red circle"], seeds=[0])
    """

    def __init__(self, url, model, version=None, timeout=30.0, retries=3, backoff=0.5):
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session = requests.Session()

    @property
    def model_url(self):
        """The model's REST address, with `/versions/N` when a version is pinned."""
        address = f"{self.url}/v1/models/{self.model}"
        return address if self.version is None else f"{address}/versions/{self.version}"

    def status(self):
        """The server's `{"model_version_status": [...]}` answer."""
        return self._request("GET", self.model_url)

    def metadata(self):
        """The server's `{"model_spec": ..., "metadata": {"signature_def": ...}}` answer."""
        return self._request("GET", f"{self.model_url}/metadata")

    def predict(self, instances=None, inputs=None, signature_name=None):
        """Runs a signature on a batch given in row form (`instances`) or columnar form (`inputs`).

        Returns the `predictions` (a list, one entry per instance) for row form, the `outputs`
        for columnar form; `{"b64": ...}` values in them are bytes.
        """
        if (instances is None) == (inputs is None):
            raise ValueError("pass exactly one of instances (row form) and inputs (columnar form)")
        body = {"instances": instances} if inputs is None else {"inputs": inputs}
        if signature_name is not None:
            body["signature_name"] = signature_name
        answer = self._request("POST", f"{self.model_url}:predict", b64.encode_nested(body))
        return _decode_outputs(answer["predictions" if inputs is None else "outputs"])

    def generate(self, captions, seeds, as_array=False):
        """Images for `captions`, one per (caption, seed) pair, from the `serving_default` signature.

        Returns PIL images, or uint8 arrays `[H, W, 3]` with `as_array=True`.
        """
        captions, seeds = list(captions), [int(seed) for seed in seeds]
        if len(captions) != len(seeds):
            raise ValueError(f"got {len(captions)} captions and {len(seeds)} seeds; give one seed per caption")
        outputs = self.predict(inputs={"captions": captions, "seeds": seeds})
        images = [Image.open(io.BytesIO(png)) for png in outputs["png_bytes"]]
        return [np.asarray(image) for image in images] if as_array else images

    def _request(self, method, url, body=None):
        """The JSON answer to one request, retrying 503 answers and failed connections."""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._session.request(method, url, json=body, timeout=self.timeout)
            except requests.ConnectionError:
                failure = ServingError(None, f"cannot connect to {self.url} ({attempt + 1} tries)")
                continue
            except requests.Timeout:
                raise ServingError(None, f"no answer from {url} within {self.timeout} s") from None
            if response.status_code != RETRIED_STATUS:
                return _answer(response)
            failure = _error(response)
        raise failure


def _decode_outputs(value):
    """Predictions or outputs with their `{"b64": ...}` values as bytes.

    Servers b64-encode only outputs named `*_bytes`, so where outputs come by name only those
    are walked (an image output is thousands of numbers); a bare single output is walked whole.
    """
    if isinstance(value, dict) and not b64.is_b64(value):
        return {name: b64.decode_nested(item) if name.endswith("_bytes") else item for name, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(row, dict) and not b64.is_b64(row) for row in value):
        return [_decode_outputs(row) for row in value]
    return b64.decode_nested(value)


def _answer(response):
    """The JSON body of a successful answer; a ServingError for any other."""
    if not response.ok:
        raise _error(response)
    try:
        return response.json()
    except ValueError:
        raise ServingError(response.status_code, f"the answer from {response.url} is not JSON") from None


def _error(response):
    """A ServingError with the server's `{"error": ...}` text, or the body's start when it has none."""
    try:
        message = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:200] or response.reason
    return ServingError(response.status_code, message)
