"""Serving: a REST client for TF Serving and a local server that speaks the same API.

Importing this package is light (no TensorFlow). The server lives in
`tfgan_text.serving.server`, which imports TensorFlow, FastAPI and uvicorn.
"""

from tfgan_text.serving.client import Client
from tfgan_text.serving.errors import ServingError

__all__ = ["Client", "ServingError"]
