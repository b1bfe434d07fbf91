"""Inference speed of an exported text-to-image model: the SavedModel in-process, ONNX Runtime,
and a REST round trip to `tfgan-text serve`, at batch 1 and batch 64, all in one run.

Prints one JSON line: images/s and p50/p99 latency (ms) of each, and the ratios the deployment
issue asks about (ONNX vs SavedModel at batch 1; REST vs in-process latency at batch 1).
`savedmodel_ids` is the `from_token_ids` signature, the same work as the ONNX graph (ids and
noise in, float images out); `savedmodel` and `rest` are `serving_default` (captions and seeds
in, tokenization, uint8 images and PNG bytes out); `onnx` includes the pure-Python tokenizer.

Run: `python bench/inference.py [--model saved_models/dcgan_shapes] [--calls 40]`
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  the tokenizer's ops

from tfgan_text.export.versions import latest_version_dir  # noqa: E402
from tfgan_text.file_names import ONNX_DIR, ONNX_FILE  # noqa: E402
from tfgan_text.noise import seed_noise  # noqa: E402
from tfgan_text.serving import Client  # noqa: E402
from tfgan_text.text import PyTokenizer  # noqa: E402

CAPTIONS = ["a large yellow star in the centre", "a small red circle on the left and a large blue square at the top"]


def timings(call, calls):
    """Seconds of each of `calls` calls of `call()`, after one untimed warm-up call."""
    call()
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return np.array(seconds)


def figures(seconds, batch):
    return {
        "images_per_s": round(batch * len(seconds) / seconds.sum(), 1),
        "p50_ms": round(float(np.percentile(seconds, 50)) * 1000, 2),
        "p99_ms": round(float(np.percentile(seconds, 99)) * 1000, 2),
    }


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(base_dir, port):
    server = subprocess.Popen(
        [sys.executable, "-m", "tfgan_text.serving.server", base_dir, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the server did not start in 120 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.path.join("saved_models", "dcgan_shapes"))
    parser.add_argument("--calls", type=int, default=40, help="timed calls per case at batch 1 (a quarter at batch 64)")
    args = parser.parse_args()

    version_dir = latest_version_dir(args.model)
    signatures = tf.saved_model.load(version_dir).signatures
    onnx_dir = os.path.join(args.model, ONNX_DIR)
    session = onnxruntime.InferenceSession(os.path.join(onnx_dir, ONNX_FILE), providers=["CPUExecutionProvider"])
    tokenizer = PyTokenizer.load(onnx_dir)
    noise_dim = signatures["from_noise"].structured_input_signature[1]["noise"].shape[-1]
    port = free_port()
    server = start_server(os.path.dirname(os.path.abspath(args.model)), port)
    client = Client(f"http://127.0.0.1:{port}", os.path.basename(os.path.normpath(args.model)))

    result = {"benchmark": "inference", "model": args.model, "threads": os.cpu_count()}
    try:
        for batch in (1, 64):
            captions = [CAPTIONS[i % len(CAPTIONS)] for i in range(batch)]
            seeds = list(range(batch))
            noise = seed_noise(seeds, noise_dim)  # the seeds' noise, as serving_default draws it
            ids = tokenizer.encode(captions)
            calls = args.calls if batch == 1 else max(3, args.calls // 4)
            cases = {
                "savedmodel": lambda: signatures["serving_default"](
                    captions=tf.constant(captions), seeds=tf.constant(seeds, tf.int64)),
                "savedmodel_ids": lambda: signatures["from_token_ids"](token_ids=tf.constant(ids), noise=tf.constant(noise)),
                "onnx": lambda: session.run(["images"], {"token_ids": tokenizer.encode(captions), "noise": noise}),
                "rest": lambda: client.predict(instances=[{"captions": c, "seeds": s} for c, s in zip(captions, seeds)]),
            }
            for name, call in cases.items():
                result[f"{name}_b{batch}"] = figures(timings(call, calls), batch)
    finally:
        server.kill()
        server.wait()
    b1 = {name: result[f"{name}_b1"]["p50_ms"] for name in ("savedmodel", "savedmodel_ids", "onnx", "rest")}
    result["onnx_speedup_vs_savedmodel_b1"] = round(b1["savedmodel"] / b1["onnx"], 2)
    result["onnx_speedup_vs_savedmodel_ids_b1"] = round(b1["savedmodel_ids"] / b1["onnx"], 2)
    result["rest_over_inprocess_latency_b1"] = round(b1["rest"] / b1["savedmodel"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
