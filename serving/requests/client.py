"""Example requests with `tfgan_text.serving.Client`, to TF Serving or `tfgan-text serve saved_models`.

    python serving/requests/client.py [http://127.0.0.1:8501] [dcgan_shapes]
"""

import sys

from tfgan_text.serving import Client

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8501"
client = Client(url, sys.argv[2] if len(sys.argv) > 2 else "dcgan_shapes")

# {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {...}}]}
print(client.status())

# {"model_spec": {...}, "metadata": {"signature_def": {"signature_def": {"serving_default": ..., "from_noise": ..., "embed": ...}}}}
signatures = client.metadata()["metadata"]["signature_def"]["signature_def"]
print(sorted(signatures))

# Row form: [{"images": [[[r, g, b], ...], ...], "png_bytes": b"\x89PNG..."}, ...] (b64 decoded to bytes)
rows = client.predict(instances=[{"captions": "a small red circle", "seeds": 0}])
print(len(rows), sorted(rows[0]))

# Columnar form: {"images": [...], "png_bytes": [b"\x89PNG...", ...]}
columns = client.predict(inputs={"captions": ["a small red circle", "a large blue square"], "seeds": [0, 1]})
print(sorted(columns))

# from_noise: the noise size Z is in the metadata ({"size": "-1"}, {"size": "Z"}).
noise_dim = int(signatures["from_noise"]["inputs"]["noise"]["tensor_shape"]["dim"][1]["size"])
outputs = client.predict(inputs={"captions": ["a small red circle"], "noise": [[0.0] * noise_dim]}, signature_name="from_noise")
print(len(outputs["png_bytes"]))

# embed, with the caption as bytes (sent as {"b64": ...}): [[0.12, -0.03, ...]]
embedding = client.predict(instances=[b"a green triangle"], signature_name="embed")
print(len(embedding[0]))

# generate: PIL images from serving_default, one per (caption, seed); the same seed gives the same image.
images = client.generate(["a small red circle", "a large blue square"], seeds=[0, 1])
images[0].save("generated.png")
print([image.size for image in images])
