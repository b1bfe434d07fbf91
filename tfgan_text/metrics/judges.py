"""Fixed, versioned judges: the networks that turn images into features and class probabilities
for FID, KID, IS, precision/recall and attribute or class accuracy, and that match images with
captions for R-precision.

A judge is trained once by `bench/train_judges.py` (the command is recorded with it) and ships
in `tfgan_text/judges/NAME/`; `judges.json` holds the sha256 of each of its files, the command
that made it and its accuracy on real images. Loading checks every hash, so two machines measure
with the same ruler, and nothing is retrained at evaluation time. Inception-v3
(`keras.applications.InceptionV3`; pool features for FID and KID as Heusel et al. 2017, logits
for IS as Salimans et al. 2016) judges other data, from a weights file the user gives.

Example:
    >>> judge = load("shapes-attributes-64px")
    >>> judge.read(images)["features"].shape   # (n, 192)
"""

import hashlib
import json
import os

import numpy as np

from tfgan_text.errors import UserError

JUDGES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "judges")
REGISTRY_FILE = "judges.json"
JUDGE_MODEL_FILE = "model.keras"
# The image judges of each dataset that ships them, by the side they judge, and its matching judge.
IMAGE_JUDGES = {"shapes": {32: "shapes-attributes-32px", 64: "shapes-attributes-64px"},
                "fashion-mnist": {32: "fashion-mnist-32px"}}
MATCHING_JUDGES = {"shapes": "shapes-matching-64px"}
INCEPTION_SIZE = 299


def registry(directory=JUDGES_DIR):
    """The judges that ship: `{name: entry}` from `judges.json` ({} when there is none)."""
    path = os.path.join(directory, REGISTRY_FILE)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def file_sha256(path):
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_dir(name, directory=JUDGES_DIR):
    """The folder of judge `name` after checking the sha256 of each of its files against the
    registry; a missing judge, a missing file or a changed one is a `UserError`."""
    return _verified(name, directory)[0]


def _verified(name, directory):
    """`(folder, registry entry)` of judge `name`, its files checked (see `verified_dir`)."""
    entries = registry(directory)
    if name not in entries:
        raise UserError(f"no judge named {name!r}; the judges are: {', '.join(sorted(entries)) or 'none'}")
    folder = os.path.join(directory, name)
    for file_name, expected in entries[name]["files"].items():
        path = os.path.join(folder, file_name)
        if not os.path.isfile(path):
            raise UserError(f"judge {name}: {path} is missing; reinstall the package or run: {entries[name]['command']}")
        actual = file_sha256(path)
        if actual != expected:
            raise UserError(f"judge {name}: {path} has sha256 {actual[:16]}..., the registry says {expected[:16]}...: "
                            f"the file changed; reinstall the package or run: {entries[name]['command']}")
    return folder, entries[name]


def dataset_key(source):
    """`"shapes"`, `"fashion-mnist"` or None: which shipped judges apply to a data source."""
    if source == "shapes":
        return "shapes"
    if "fashion" in os.path.basename(os.path.normpath(str(source))).lower():
        return "fashion-mnist"
    return None


def image_judge_name(key, image_size):
    """The shipped image judge of dataset `key` for images of `image_size`: the one of that side,
    else the smallest larger one (images are resized to it), else the largest."""
    sizes = sorted(IMAGE_JUDGES[key])
    larger = [size for size in sizes if size >= image_size]
    return IMAGE_JUDGES[key][larger[0] if larger else sizes[-1]]


def load(name, directory=JUDGES_DIR):
    """A shipped judge by name: an `AttributeJudge`, a `ClassJudge` or a `MatchingJudge`."""
    folder, entry = _verified(name, directory)
    kinds = {"attributes": AttributeJudge, "classes": ClassJudge, "matching": MatchingJudge}
    return kinds[entry["kind"]](name, folder, entry)


def to_unit_range(images, size):
    """uint8 or [-1, 1] float images `[B, S, S, 3]` -> float32 in [-1, 1] at `size` x `size`
    (bilinear with antialiasing where S differs)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    x = tf.cast(x, tf.float32) / 127.5 - 1.0 if x.dtype == tf.uint8 else tf.cast(x, tf.float32)
    if x.shape[1] != size or x.shape[2] != size:
        x = tf.clip_by_value(tf.image.resize(x, [size, size], antialias=True), -1.0, 1.0)
    return x


class ShippedJudge:
    """What every shipped judge has: its name, the sha256 of its files and its record."""

    def __init__(self, name, folder, entry):
        self.name = name
        self.folder = folder
        self.entry = entry
        self.image_size = entry["image_size"]

    def describe(self):
        """`{"name", "sha256", "command"}` for a report."""
        return {"name": self.name, "sha256": dict(self.entry["files"]), "command": self.entry["command"]}


def _load_classifier(folder):
    """The classifier of a judge's folder (`AttributeClassifier` or `ClassClassifier`)."""
    import keras

    from tfgan_text.metrics import attribute_classifier, class_classifier  # noqa: F401  register the classes

    return keras.saving.load_model(os.path.join(folder, JUDGE_MODEL_FILE), compile=False)


class AttributeJudge(ShippedJudge):
    """The shapes `AttributeClassifier`: penultimate features, and as IS classes the (colour,
    shape) pair of the object at the place the classifier is surest holds one (64 classes)."""

    def __init__(self, name, folder, entry):
        super().__init__(name, folder, entry)
        self.model = _load_classifier(folder)

    def read(self, images):
        """`{"features" [B, D], "probabilities" [B, C], "outputs" {head: array}}` of a batch."""
        outputs, features = self.model.outputs_and_features(to_unit_range(images, self.image_size))
        outputs = {key: np.asarray(value) for key, value in outputs.items()}
        place = np.argmax(outputs["position"], axis=1)
        rows = np.arange(len(place))
        pair = outputs["place_color"][rows, place][:, :, None] * outputs["place_shape"][rows, place][:, None, :]
        return {"features": np.asarray(features), "probabilities": pair.reshape(len(rows), -1), "outputs": outputs}

    def outputs(self, images, batch_size=250):
        """The classifier's outputs (`AttributeClassifier`'s dict of arrays) on all of `images`."""
        parts = [self.read(images[start : start + batch_size])["outputs"] for start in range(0, len(images), batch_size)]
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


class ClassJudge(ShippedJudge):
    """A `ClassClassifier`: penultimate features and class probabilities."""

    def __init__(self, name, folder, entry):
        super().__init__(name, folder, entry)
        self.model = _load_classifier(folder)
        self.class_names = entry.get("classes")

    def read(self, images):
        """`{"features" [B, D], "probabilities" [B, C]}` of a batch."""
        features = self.model.features(to_unit_range(images, self.image_size))
        return {"features": np.asarray(features), "probabilities": np.asarray(self.model.probabilities(features))}


class InceptionJudge:
    """Inception-v3 as FID and IS use it: 2048-d average-pool features and the softmax of the
    1000 ImageNet logits, on images resized to 299 x 299 in [-1, 1].

    Args:
        weights: path of the standard Keras weights file (with the top), or None for random
            weights (to test the code path: its figures mean nothing).
    """

    def __init__(self, weights):
        import keras

        if weights is not None and not os.path.isfile(weights):
            raise UserError(f"--inception-weights: no file {weights}")
        self.weights = weights
        self.name = "inception-v3" if weights else "inception-v3-random-weights"
        self.image_size = INCEPTION_SIZE
        network = keras.applications.InceptionV3(weights=weights, include_top=True)
        self.model = keras.Model(network.input, [network.get_layer("avg_pool").output, network.output])

    def describe(self):
        return {"name": self.name, "sha256": {os.path.basename(self.weights): file_sha256(self.weights)}
                if self.weights else {}, "command": "keras.applications.InceptionV3"}

    def read(self, images):
        features, probabilities = self.model(to_unit_range(images, self.image_size))
        return {"features": np.asarray(features), "probabilities": np.asarray(probabilities)}


class MatchingJudge(ShippedJudge):
    """A text encoder and an image encoder trained into one space (DAMSM's sentence loss):
    the matching model of R-precision (Xu et al. 2018). A shipped judge, or any run directory
    that holds `text_encoder.keras`, `image_encoder.keras` and its vocabulary (`from_run`)."""

    def __init__(self, name, folder, entry):
        from tfgan_text.file_names import IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE
        from tfgan_text.models import load_model
        from tfgan_text.text.tokenizer import Tokenizer

        super().__init__(name, folder, entry)
        self.text_encoder = load_model(os.path.join(folder, TEXT_ENCODER_FILE))
        if getattr(self.text_encoder, "input_key", None) != "token_ids":
            raise UserError(f"{folder}: a matching model needs a word-level text encoder (word_rnn)")
        self.image_encoder = load_model(os.path.join(folder, IMAGE_ENCODER_FILE))
        self.tokenizer = Tokenizer(folder)

    @classmethod
    def from_run(cls, run_dir):
        """The encoders of a run directory (not hash-checked: the report gives their hashes)."""
        from tfgan_text.file_names import IMAGE_ENCODER_FILE, RUN_SETTINGS_FILE, TEXT_ENCODER_FILE, VOCAB_FILE

        names = (TEXT_ENCODER_FILE, IMAGE_ENCODER_FILE, VOCAB_FILE)
        missing = [name for name in names if not os.path.isfile(os.path.join(run_dir, name))]
        if missing:
            raise UserError(f"--matching-model {run_dir}: no {', '.join(missing)} (a damsm, text-encoder or dcgan run)")
        with open(os.path.join(run_dir, RUN_SETTINGS_FILE), encoding="utf-8") as file:
            image_size = json.load(file)["image_size"]
        files = {name: file_sha256(os.path.join(run_dir, name)) for name in names}
        entry = {"image_size": image_size, "files": files, "command": f"--matching-model {run_dir}"}
        return cls(os.path.basename(os.path.normpath(run_dir)), run_dir, entry)

    def embed_images(self, images):
        """`[B, E]` global image features."""
        return np.asarray(self.image_encoder(to_unit_range(images, self.image_size), training=False)["global"])

    def embed_captions(self, captions):
        """`[B, E]` sentence features of a list of str."""
        import tensorflow as tf

        ids = self.tokenizer(tf.constant(list(captions)))
        return np.asarray(self.text_encoder(ids, training=False)["sentence"])
