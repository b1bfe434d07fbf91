"""The REST server (`python -m tfgan_text.serving.server`) and `tfgan_text.serving.Client`.

One server process, started for the module, serves tiny SavedModels with the real models'
signatures; requests are TF Serving's documented JSON bodies. The client's retries and
timeouts are checked against a scripted stub server.
"""

import base64
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests
import tensorflow as tf
from PIL import Image

from tests.test_case import TestCase
from tfgan_text.serving import Client, ServingError

NOISE_DIM = 8
MAX_BATCH = 8
MAX_BODY_BYTES = 65536
STARTUP_SECONDS = 90
HOT_SWAP_SECONDS = 60
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TinyTextToImage(tf.Module):
    """A stand-in of an exported text-to-image model: the real signatures, 4x4 images.

    The embedding of a caption is `[length, scale * length]`, so versions saved with
    different `scale` answer differently.
    """

    def __init__(self, scale):
        super().__init__()
        self.scale = tf.Variable(scale, dtype=tf.float32)
        self.weights = tf.Variable(tf.random.stateless_normal([NOISE_DIM, 4 * 4 * 3], seed=[1, 2]))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int64)])
    def serving_default(self, captions, seeds):
        noise = tf.map_fn(
            lambda seed: tf.random.stateless_normal([NOISE_DIM], seed=tf.stack([seed, seed])),
            seeds,
            fn_output_signature=tf.float32,
        )
        return self.from_noise(captions, noise)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None, NOISE_DIM], tf.float32)])
    def from_noise(self, captions, noise):
        pixels = tf.sigmoid(noise @ self.weights + self._caption_code(captions)[:, :1] / 10.0)
        images = tf.cast(tf.reshape(pixels, [-1, 4, 4, 3]) * 255.0, tf.uint8)
        return {"images": images, "png_bytes": tf.map_fn(tf.io.encode_png, images, fn_output_signature=tf.string)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def embed(self, captions):
        return {"embedding": self._caption_code(captions)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def parse(self, texts):
        return {"numbers": tf.strings.to_number(texts)}

    def _caption_code(self, captions):
        length = tf.cast(tf.strings.length(captions), tf.float32)
        return tf.stack([length, self.scale * length], axis=1)


def save_tiny_model(path, scale):
    """Saves a TinyTextToImage with all four signatures at `path`."""
    module = TinyTextToImage(scale)
    signatures = {name: getattr(module, name) for name in ("serving_default", "from_noise", "embed", "parse")}
    tf.saved_model.save(module, path, signatures=signatures)


def free_port():
    """A loopback port that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """`python -m tfgan_text.serving.server` in a subprocess on a free loopback port."""

    def __init__(self, base_dir, log_path, *flags):
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = log_path
        command = [sys.executable, "-m", "tfgan_text.serving.server", base_dir, "--port", self.url.rsplit(":", 1)[1], *flags]
        with open(log_path, "wb") as log:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_until_serving(self, model):
        """Returns once the model's status answers 200; raises with the server's log otherwise."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/v1/models/{model}", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {STARTUP_SECONDS} s:\n{self.log()}")

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()[-4000:]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


SERVER = None
WORK_DIR = None


def setUpModule():
    """Models on disk, then one server for every test of the module.

    `dcgan/1` is served, beside `dcgan/.tmp-7` and `dcgan/onnx` (not versions) and `dcgan/5`
    (half written: no saved_model.pb). `swap/1` is the model that the hot-swap test adds to.
    """
    global SERVER, WORK_DIR
    WORK_DIR = tempfile.mkdtemp(prefix="test_serving_")
    base = os.path.join(WORK_DIR, "models")
    save_tiny_model(os.path.join(base, "dcgan", "1"), scale=1.0)
    save_tiny_model(os.path.join(WORK_DIR, "staging", "2"), scale=2.0)
    shutil.copytree(os.path.join(base, "dcgan", "1"), os.path.join(base, "dcgan", ".tmp-7"))
    shutil.copytree(os.path.join(base, "dcgan", "1"), os.path.join(base, "swap", "1"))
    os.makedirs(os.path.join(base, "dcgan", "onnx"))
    shutil.copytree(os.path.join(base, "dcgan", "1", "variables"), os.path.join(base, "dcgan", "5", "variables"))
    SERVER = ServerProcess(
        base,
        os.path.join(WORK_DIR, "server.log"),
        "--max-batch", str(MAX_BATCH),
        "--max-body-bytes", str(MAX_BODY_BYTES),
    )
    try:
        SERVER.wait_until_serving("dcgan")
    except RuntimeError:
        SERVER.stop()
        raise


def tearDownModule():
    SERVER.stop()
    shutil.rmtree(WORK_DIR, ignore_errors=True)


def b64(data):
    return {"b64": base64.b64encode(data).decode("ascii")}


def png_pixels(value):
    """The pixels of a `{"b64": ...}` PNG as a uint8 array."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(value["b64"]))))


class ServingTestCase(TestCase):
    """Requests to the module's server."""

    def get(self, path):
        return requests.get(f"{SERVER.url}{path}", timeout=30)

    def post(self, path, body):
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        return requests.post(f"{SERVER.url}{path}", data=data, timeout=30)

    def predict(self, body, path="/v1/models/dcgan:predict"):
        """The JSON answer of a predict that must succeed."""
        response = self.post(path, body)
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def assert_error(self, response, status_code, fragment):
        self.assertEqual(response.status_code, status_code, response.text)
        self.assertIn(fragment, response.json()["error"])

    def assert_still_serving(self):
        self.assertEqual(self.get("/v1/models/dcgan").status_code, 200)


class StatusAndMetadataTest(ServingTestCase):
    def test_status_lists_the_complete_integer_versions(self):
        expected = {
            "model_version_status": [
                {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            ]
        }
        self.assertEqual(self.get("/v1/models/dcgan").json(), expected)
        self.assertEqual(self.get("/v1/models/dcgan/versions/1").json(), expected)

    def test_half_written_version_is_not_served(self):
        self.assert_error(self.get("/v1/models/dcgan/versions/5"), 404, "version 5")
        self.assert_error(self.post("/v1/models/dcgan/versions/5:predict", {"instances": ["a"]}), 404, "version 5")

    def test_metadata_describes_every_signature(self):
        answer = self.get("/v1/models/dcgan/metadata").json()
        self.assertEqual(answer["model_spec"], {"name": "dcgan", "signature_name": "", "version": "1"})
        signatures = answer["metadata"]["signature_def"]["signature_def"]
        self.assertEqual(set(signatures), {"serving_default", "from_noise", "embed", "parse"})
        default = signatures["serving_default"]
        self.assertEqual(default["method_name"], "tensorflow/serving/predict")
        self.assertEqual(set(default["inputs"]), {"captions", "seeds"})
        self.assertEqual(default["inputs"]["captions"]["dtype"], "DT_STRING")
        self.assertEqual(
            default["inputs"]["seeds"]["tensor_shape"], {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
        )
        self.assertEqual(default["inputs"]["seeds"]["dtype"], "DT_INT64")
        self.assertEqual(default["outputs"]["images"]["dtype"], "DT_UINT8")
        self.assertEqual([dim["size"] for dim in default["outputs"]["images"]["tensor_shape"]["dim"]], ["-1", "4", "4", "3"])
        self.assertEqual(default["outputs"]["png_bytes"]["dtype"], "DT_STRING")
        self.assertEqual([dim["size"] for dim in signatures["from_noise"]["inputs"]["noise"]["tensor_shape"]["dim"]], ["-1", "8"])
        self.assertEqual(signatures["embed"]["outputs"]["embedding"]["dtype"], "DT_FLOAT")
        self.assertEqual(self.get("/v1/models/dcgan/versions/1/metadata").json(), answer)


class PredictTest(ServingTestCase):
    def test_row_form_answers_one_prediction_per_instance(self):
        body = {"instances": [{"captions": "a red circle", "seeds": 1}, {"captions": "a blue square", "seeds": 2}]}
        predictions = self.predict(body)["predictions"]
        self.assertLen(predictions, 2)
        for prediction in predictions:
            self.assertEqual(set(prediction), {"images", "png_bytes"})
            self.assertEqual(np.array(prediction["images"]).shape, (4, 4, 3))
            np.testing.assert_array_equal(png_pixels(prediction["png_bytes"]), prediction["images"])

    def test_columnar_form_matches_row_form(self):
        rows = self.predict({"instances": [{"captions": "a", "seeds": 1}, {"captions": "b", "seeds": 2}]})["predictions"]
        outputs = self.predict({"inputs": {"captions": ["a", "b"], "seeds": [1, 2]}})["outputs"]
        self.assertEqual(outputs["images"], [row["images"] for row in rows])
        self.assertEqual(outputs["png_bytes"], [row["png_bytes"] for row in rows])

    def test_same_seed_same_image_other_seed_another(self):
        def png(seed):
            return self.predict({"inputs": {"captions": ["a red circle"], "seeds": [seed]}})["outputs"]["png_bytes"][0]

        self.assertEqual(png(7), png(7))
        self.assertNotEqual(png(7), png(8))

    def test_signature_name_selects_the_signature(self):
        rows = self.predict({"signature_name": "embed", "instances": ["abc", "hello"]})["predictions"]
        self.assertEqual(rows, [[3.0, 3.0], [5.0, 5.0]])
        columns = self.predict({"signature_name": "embed", "inputs": ["abc"]})["outputs"]
        self.assertEqual(columns, [[3.0, 3.0]])
        named_columns = self.predict({"signature_name": "embed", "inputs": {"captions": ["ab"]}})["outputs"]
        self.assertEqual(named_columns, [[2.0, 2.0]])
        named_rows = self.predict({"signature_name": "embed", "instances": [{"captions": "ab"}]})["predictions"]
        self.assertEqual(named_rows, [[2.0, 2.0]])

    def test_from_noise_is_a_function_of_the_noise(self):
        body = {"signature_name": "from_noise", "inputs": {"captions": ["a", "a"], "noise": [[0.5] * 8, [-0.5] * 8]}}
        first, second = self.predict(body)["outputs"]["images"]
        self.assertNotEqual(first, second)
        self.assertEqual(self.predict(body)["outputs"]["images"], [first, second])

    def test_b64_string_input_equals_the_text(self):
        by_b64 = self.predict({"signature_name": "embed", "instances": [b64(b"abcd")]})["predictions"]
        self.assertEqual(by_b64, [[4.0, 4.0]])
        as_text = self.predict({"inputs": {"captions": ["a cat"], "seeds": [3]}})["outputs"]
        as_b64 = self.predict({"inputs": {"captions": [b64(b"a cat")], "seeds": [3]}})["outputs"]
        self.assertEqual(as_b64, as_text)

    def test_concurrent_burst_answers_every_request(self):
        def png(seed):
            return self.predict({"inputs": {"captions": ["a green triangle"], "seeds": [seed]}})["outputs"]["png_bytes"][0]

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(png, [index % 4 for index in range(16)]))
        for index, answer in enumerate(answers):
            self.assertEqual(answer, answers[index % 4])
        self.assertLen({answer["b64"] for answer in answers}, 4)


class BadRequestTest(ServingTestCase):
    def test_bad_predict_bodies_are_400_naming_the_problem(self):
        cases = [
            ({"signature_name": "nope", "instances": ["a"]}, "'nope'"),
            ({"instances": [{"caption": "a", "seeds": 1}]}, "'caption'"),
            ({"instances": [{"captions": "a"}]}, "'seeds'"),
            ({"instances": [{"captions": "a", "seeds": "abc"}]}, "int64"),
            ({"instances": [{"captions": 5, "seeds": 1}]}, "'captions'"),
            ({"inputs": {"captions": ["a", "b"], "seeds": [1]}}, "batch sizes"),
            ({"instances": []}, "'instances'"),
            ("{not json", "malformed JSON"),
            ({"signature_name": "embed", "instances": [{"b64": "%%%"}]}, "base64"),
            ({"signature_name": "embed"}, "exactly one"),
            ({"signature_name": "embed", "instances": ["a"], "inputs": ["a"]}, "exactly one"),
            ({"signature_name": "embed", "instances": ["a"] * (MAX_BATCH + 1)}, f"limit of {MAX_BATCH}"),
            ({"signature_name": "embed", "inputs": ["a"] * (MAX_BATCH + 1)}, f"limit of {MAX_BATCH}"),
            ({"signature_name": "from_noise", "inputs": {"captions": ["a"], "noise": [[0.0] * 3]}}, "'noise'"),
            ({"signature_name": "parse", "instances": ["abc"]}, "abc"),
        ]
        for body, fragment in cases:
            with self.subTest(body=body):
                self.assert_error(self.post("/v1/models/dcgan:predict", body), 400, fragment)
        self.assert_still_serving()

    def test_unknown_model_version_or_route_is_404(self):
        self.assert_error(self.get("/v1/models/nope"), 404, "'nope'")
        self.assert_error(self.get("/v1/models/nope/metadata"), 404, "'nope'")
        self.assert_error(self.post("/v1/models/nope:predict", {"instances": ["a"]}), 404, "'nope'")
        self.assert_error(self.get("/v1/models/dcgan/versions/9"), 404, "version 9")
        self.assert_error(self.post("/v1/models/dcgan:explain", {"instances": ["a"]}), 404, "malformed request")
        self.assert_still_serving()

    def test_body_over_the_limit_is_413(self):
        body = json.dumps({"signature_name": "embed", "instances": ["x" * MAX_BODY_BYTES]})
        self.assert_error(self.post("/v1/models/dcgan:predict", body), 413, f"{MAX_BODY_BYTES} bytes")
        chunks = (chunk.encode() for chunk in [body[:1000], body[1000:]])  # no Content-Length: chunked
        self.assert_error(self.post("/v1/models/dcgan:predict", chunks), 413, f"{MAX_BODY_BYTES} bytes")
        self.assert_still_serving()


class HotSwapTest(ServingTestCase):
    def embedding(self, path="/v1/models/swap:predict"):
        return self.predict({"signature_name": "embed", "instances": ["abc"]}, path)["predictions"][0]

    def wait_for(self, condition, what):
        deadline = time.monotonic() + HOT_SWAP_SECONDS
        while not condition():
            self.assertLess(time.monotonic(), deadline, f"{what} within {HOT_SWAP_SECONDS} s")
            time.sleep(0.2)

    def test_new_version_is_served_without_restart_and_a_broken_one_is_not(self):
        model_dir = os.path.join(WORK_DIR, "models", "swap")
        self.assertEqual(self.embedding(), [3.0, 3.0])
        broken = os.path.join(model_dir, "4")
        os.makedirs(broken)
        with open(os.path.join(broken, "saved_model.pb"), "wb") as file:
            file.write(b"not a SavedModel")
        self.wait_for(lambda: "failed to load" in self.get("/v1/models/swap/versions/4").text, "version 4 refused")
        self.assertEqual(self.embedding(), [3.0, 3.0])

        staged = os.path.join(model_dir, ".tmp-2")
        shutil.copytree(os.path.join(WORK_DIR, "staging", "2"), staged)
        os.rename(staged, os.path.join(model_dir, "2"))
        self.wait_for(lambda: self.embedding() == [3.0, 6.0], "version 2 served")
        versions = [status["version"] for status in self.get("/v1/models/swap").json()["model_version_status"]]
        self.assertEqual(versions, ["2", "1"])
        self.assertEqual(self.embedding("/v1/models/swap/versions/1:predict"), [3.0, 3.0])
        self.assertEqual(self.get("/v1/models/swap/metadata").json()["model_spec"]["version"], "2")


class ClientTest(ServingTestCase):
    def test_status_metadata_and_predict(self):
        client = Client(SERVER.url, "dcgan")
        self.assertEqual(client.status()["model_version_status"][0]["version"], "1")
        self.assertIn("embed", client.metadata()["metadata"]["signature_def"]["signature_def"])
        rows = client.predict(instances=[{"captions": "a", "seeds": 1}])
        self.assertIsInstance(rows[0]["png_bytes"], bytes)
        columns = client.predict(inputs={"captions": [b"abc"]}, signature_name="embed")
        self.assertEqual(columns, [[3.0, 3.0]])
        pinned = Client(SERVER.url, "dcgan", version=1)
        self.assertEqual(pinned.predict(inputs={"captions": ["a"], "seeds": [1]})["images"][0], rows[0]["images"])

    def test_generate_returns_images(self):
        client = Client(SERVER.url, "dcgan")
        images = client.generate(["a red circle", "a blue square"], seeds=[1, 2])
        self.assertLen(images, 2)
        self.assertIsInstance(images[0], Image.Image)
        self.assertEqual(images[0].size, (4, 4))
        arrays = client.generate(["a red circle"], seeds=[1], as_array=True)
        np.testing.assert_array_equal(arrays[0], np.asarray(images[0]))
        expected = client.predict(inputs={"captions": ["a red circle"], "seeds": [1]})["images"][0]
        np.testing.assert_array_equal(arrays[0], expected)

    def test_server_errors_carry_the_server_text(self):
        with self.assertRaises(ServingError) as caught:
            Client(SERVER.url, "dcgan").predict(instances=["a"], signature_name="nope")
        self.assertEqual(caught.exception.status_code, 400)
        self.assertIn("'nope'", caught.exception.message)
        with self.assertRaises(ServingError) as caught:
            Client(SERVER.url, "nope").status()
        self.assertEqual(caught.exception.status_code, 404)
        self.assertIn("'nope'", caught.exception.message)


class ScriptedServer:
    """A loopback HTTP stub that answers each request with the next (status, delay seconds) of a script."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = 0
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, delay = stub.script[min(stub.requests, len(stub.script) - 1)]
                stub.requests += 1
                time.sleep(delay)
                body = json.dumps({"model_version_status": []} if status == 200 else {"error": f"scripted {status}"})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        class QuietServer(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that timed out closed the connection: expected here

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ClientRetryTest(TestCase):
    def stub(self, script):
        server = ScriptedServer(script)
        self.addCleanup(server.close)
        return server

    def test_retries_503_then_succeeds(self):
        stub = self.stub([(503, 0), (503, 0), (200, 0)])
        self.assertEqual(Client(stub.url, "m", backoff=0.01).status(), {"model_version_status": []})
        self.assertEqual(stub.requests, 3)

    def test_gives_up_after_the_retries(self):
        stub = self.stub([(503, 0)])
        with self.assertRaises(ServingError) as caught:
            Client(stub.url, "m", retries=2, backoff=0.01).status()
        self.assertEqual(caught.exception.status_code, 503)
        self.assertEqual(caught.exception.message, "scripted 503")
        self.assertEqual(stub.requests, 3)

    def test_400_is_not_retried(self):
        stub = self.stub([(400, 0), (200, 0)])
        with self.assertRaises(ServingError) as caught:
            Client(stub.url, "m", backoff=0.01).status()
        self.assertEqual((caught.exception.status_code, caught.exception.message), (400, "scripted 400"))
        self.assertEqual(stub.requests, 1)

    def test_timeout_is_an_error(self):
        stub = self.stub([(200, 3)])
        started = time.monotonic()
        with self.assertRaises(ServingError) as caught:
            Client(stub.url, "m", timeout=0.3).status()
        self.assertIsNone(caught.exception.status_code)
        self.assertIn("no answer", caught.exception.message)
        self.assertLess(time.monotonic() - started, 3)

    def test_connection_errors_are_retried_then_raised(self):
        with self.assertRaises(ServingError) as caught:
            Client(f"http://127.0.0.1:{free_port()}", "m", retries=2, backoff=0.01).status()
        self.assertIsNone(caught.exception.status_code)
        self.assertIn("3 tries", caught.exception.message)
