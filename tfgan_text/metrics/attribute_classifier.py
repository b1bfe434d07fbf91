"""An attribute classifier trained on real shapes images, to judge generated images.

Does a generated image show what its caption names? A text-to-image model is scored by a
classifier trained on real images of the built-in shapes dataset (`tfgan_text.data.shapes`),
in the spirit of the attribute- and object-detector scores of compositional text-to-image
benchmarks (e.g. T2I-CompBench, Huang et al. 2023; GenEval, Ghosh et al. 2023): an image
counts as right for colour when the set of colours the classifier sees is the set its
attributes name, and likewise for shapes, sizes and places.

Colour-shape binding ("a red circle and a blue star", not a blue circle and a red star) is
judged per place: the classifier says which of the 3x3 places hold an object and, for each
place, the colour and the shape of the object there, from two separate heads. Colour and shape
are predicted independently, so the binding of a (colour, shape) pair never seen in training
(the `compositional` split) is judged as soundly as that of a seen one; a head over the 64
pairs would have never seen the held-out pairs as positives.

The classifier that judges is trained once by `bench/train_judges.py` and ships with the
package (`tfgan_text.metrics.judges`): every machine measures with the same weights.

Example:

    from tfgan_text.data import shapes
    from tfgan_text.metrics import attribute_classifier as ac, judges
    classifier = judges.load("shapes-attributes-64px").model
    data = shapes.load_split("test", image_size=64)
    ac.attribute_accuracy(classifier, data["image"], data)
    # {"color_accuracy": ..., "shape_accuracy": ..., "pair_accuracy": ..., ...}
"""

import keras
import numpy as np
from keras import ops

from tfgan_text.data import shapes
from tfgan_text.errors import UserError

NUM_COLORS = len(shapes.ATTRIBUTE_NAMES["color"])
NUM_SHAPES = len(shapes.ATTRIBUTE_NAMES["shape"])
NUM_SIZES = len(shapes.ATTRIBUTE_NAMES["size"])
NUM_PLACES = len(shapes.ATTRIBUTE_NAMES["position"])
# Row and column centres of the shapes dataset's 3x3 grid of places, fractions of the side.
PLACE_CENTRES = (0.2, 0.5, 0.8)

SET_HEADS = ("color", "shape", "size", "position")
DEFAULT_EPOCHS = 3


def _interpolation_weights(centres, size):
    """`[len(centres), size]`: linear interpolation weights that read a row of `size` cells at
    `centres`, fractions of its length."""
    u = np.clip(np.asarray(centres, np.float64) * size - 0.5, 0, size - 1)
    low = np.floor(u).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    rows = np.arange(len(u))
    weights = np.zeros((len(u), size), np.float32)
    np.add.at(weights, (rows, low), 1.0 - (u - low))
    np.add.at(weights, (rows, high), u - low)
    return weights


def place_weights(centres, height, width):
    """`[P, height * width]`: bilinear weights that read a feature map at the places of a grid
    (rows from the top, then columns from the left; P = len(centres) ** 2), whose row and column
    centres are `centres`, fractions of the image side."""
    rows = _interpolation_weights(centres, height)
    cols = _interpolation_weights(centres, width)
    return np.einsum("ri,cj->rcij", rows, cols).reshape(len(centres) ** 2, height * width)


def conv_trunk(blocks, name, first=()):
    """Blocks of (3x3 convolution, batch norm, ReLU) layers, 2x2 max pooling between blocks."""
    layers = list(first)
    for i, widths in enumerate(blocks):
        if i:
            layers.append(keras.layers.MaxPooling2D(2))
        for width in widths:
            layers.append(keras.layers.Conv2D(width, 3, padding="same", use_bias=False))
            layers.append(keras.layers.BatchNormalization(momentum=0.9))
            layers.append(keras.layers.ReLU())
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="tfgan_text")
class AttributeClassifier(keras.Model):
    """Multi-label CNN: which colours, shapes, sizes and places an image shows, and per place
    the colour and shape of the object there.

    Input: images `[B, S, S, 3]`, either uint8 (0..255) or float in [-1, 1] (the generators'
    range); uint8 input is rescaled to [-1, 1] inside the model, any other dtype is taken to be
    in [-1, 1] already.

    Two convolutional pathways. The shape pathway sees only value and chroma (max and
    max - min of R, G, B), which do not change with hue: shape, size and place predictions
    cannot depend on hue, so a shape in a colour it was never trained with (a held-out pair)
    is seen as in any other colour; a network on RGB learns colour-shape conjunctions and
    fails there. It starts at full resolution, so that small shapes keep their corners. The
    colour pathway sees RGB at half resolution. Presence heads read globally max-pooled
    features (indifferent to where an object is); place heads read both feature maps at the
    centres of the 3x3 grid of places (bilinear), with the same weights at every place. Works
    at 32, 64 and 128 px (any size the pooling divides); a classifier judges images of the
    size it was trained at, so `image_size`, when set, makes other sizes an error.

    Outputs, a dict of probabilities:
        `color` [B, num_colors], `shape` [B, num_shapes], `size` [B, num_sizes] and
        `position` [B, P]: sigmoid, "is present" (for `position`: "this place holds an
        object"), P = len(place_centres) ** 2 places, row by row from the top left.
        `place_color` [B, P, num_colors], `place_shape` [B, P, num_shapes]: softmax, the
        colour and shape of the object at each place (trained only where there is one).

    Args:
        num_colors, num_shapes, num_sizes: ints, label counts (shapes dataset defaults).
        shape_blocks: tuple of blocks, each a tuple of convolution widths, of the shape pathway.
        color_blocks: the same for the colour pathway.
        place_centres: tuple of floats, row and column centres of the places, as fractions of
            the image side (the shapes dataset's 3x3 grid).
        image_size: int or None, the only image side accepted (None: any).
        **kwargs: passed to `keras.Model`.

    Example:
        >>> classifier = AttributeClassifier(shape_blocks=((8,), (16,)), color_blocks=((8,),))
        >>> out = classifier(np.zeros([2, 32, 32, 3], "uint8"))  # out["place_color"]: [2, 9, 8]
    """

    def __init__(
        self,
        num_colors=NUM_COLORS,
        num_shapes=NUM_SHAPES,
        num_sizes=NUM_SIZES,
        shape_blocks=((16,), (32,), (64, 64), (128,)),
        color_blocks=((16,), (32,), (64,)),
        place_centres=PLACE_CENTRES,
        image_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not shape_blocks or not color_blocks:
            raise UserError("shape_blocks and color_blocks must each have at least one block")
        self.num_colors = num_colors
        self.num_shapes = num_shapes
        self.num_sizes = num_sizes
        self.shape_blocks = tuple(tuple(block) for block in shape_blocks)
        self.color_blocks = tuple(tuple(block) for block in color_blocks)
        self.place_centres = tuple(place_centres)
        self.image_size = image_size
        self.shape_trunk = conv_trunk(self.shape_blocks, "shape_trunk")
        self.color_trunk = conv_trunk(
            self.color_blocks, "color_trunk", first=[keras.layers.AveragePooling2D(2)]
        )
        self.pool = keras.layers.GlobalMaxPooling2D(name="pool")
        self.color_head = keras.layers.Dense(num_colors, activation="sigmoid", name="color")
        self.shape_head = keras.layers.Dense(num_shapes, activation="sigmoid", name="shape")
        self.size_head = keras.layers.Dense(num_sizes, activation="sigmoid", name="size")
        self.position_head = keras.layers.Dense(1, activation="sigmoid", name="position")
        self.place_color_head = keras.layers.Dense(num_colors, name="place_color")
        self.place_shape_head = keras.layers.Dense(num_shapes, name="place_shape")

    def _check_size(self, shape):
        if self.image_size is not None and tuple(shape[1:3]) != (self.image_size,) * 2:
            raise UserError(
                f"this attribute classifier takes {self.image_size}x{self.image_size} images, "
                f"got {shape[1]}x{shape[2]}"
            )

    def build(self, input_shape):
        self._check_size(input_shape)
        shape = tuple(input_shape[:-1]) + (2,)
        self.shape_trunk.build(shape)
        self.color_trunk.build(tuple(input_shape))
        shape_width = self.shape_blocks[-1][-1]
        color_width = self.color_blocks[-1][-1]
        for head in (self.shape_head, self.size_head, self.position_head, self.place_shape_head):
            head.build((None, shape_width))
        for head in (self.color_head, self.place_color_head):
            head.build((None, color_width))
        self.built = True

    def _read_places(self, features):
        height, width, channels = features.shape[1:]
        weights = place_weights(self.place_centres, height, width)
        flat = ops.reshape(features, (-1, height * width, channels))
        return ops.einsum("pk,bkc->bpc", ops.convert_to_tensor(weights, features.dtype), flat)

    def _feature_maps(self, images, training):
        """The shape pathway's and the colour pathway's last feature maps."""
        x = ops.convert_to_tensor(images)
        if not self.built:
            self.build(x.shape)
        self._check_size(x.shape)
        if x.dtype == "uint8":
            x = ops.cast(x, self.compute_dtype) / 127.5 - 1.0
        else:
            x = ops.cast(x, self.compute_dtype)
        value = ops.max(x, axis=-1, keepdims=True)
        chroma = value - ops.min(x, axis=-1, keepdims=True)  # in [0, 2] for x in [-1, 1]
        shape_features = self.shape_trunk(
            ops.concatenate([value, chroma - 1.0], axis=-1), training=training
        )
        return shape_features, self.color_trunk(x, training=training)

    def _pooled(self, shape_features, color_features):
        return ops.concatenate([self.pool(shape_features), self.pool(color_features)], axis=-1)

    def _heads(self, shape_features, color_features):
        shape_pooled = self.pool(shape_features)
        shape_places = self._read_places(shape_features)
        color_places = self._read_places(color_features)
        return {
            "color": self.color_head(self.pool(color_features)),
            "shape": self.shape_head(shape_pooled),
            "size": self.size_head(shape_pooled),
            "position": ops.squeeze(self.position_head(shape_places), axis=-1),
            "place_color": ops.softmax(self.place_color_head(color_places)),
            "place_shape": ops.softmax(self.place_shape_head(shape_places)),
        }

    def features(self, images):
        """`[B, D]`: the globally max-pooled features of both pathways, concatenated, the input of
        the presence heads (the penultimate layer: FID and KID features, `metrics.judges`)."""
        return self._pooled(*self._feature_maps(images, training=False))

    def outputs_and_features(self, images):
        """`(outputs, features)`: the call's outputs and `features`, from one pass of the trunks."""
        maps = self._feature_maps(images, training=False)
        return self._heads(*maps), self._pooled(*maps)

    def call(self, images, training=False):
        return self._heads(*self._feature_maps(images, training))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_colors": self.num_colors,
                "num_shapes": self.num_shapes,
                "num_sizes": self.num_sizes,
                "shape_blocks": self.shape_blocks,
                "color_blocks": self.color_blocks,
                "place_centres": self.place_centres,
                "image_size": self.image_size,
            }
        )
        return config


# ----------------------------------------------------------------------------- targets


def multi_hot(ids, depth):
    """Ids `[n, k]` (-1: absent) -> float32 multi-hot `[n, depth]`: the set each row names."""
    ids = np.asarray(ids)
    out = np.zeros((len(ids), depth), np.float32)
    rows, cols = np.nonzero(ids >= 0)
    out[rows, ids[rows, cols]] = 1.0
    return out


def per_place(values, position, num_places=NUM_PLACES):
    """Ids `[n, k]` of objects at places `[n, k]` (-1: absent) -> int32 `[n, num_places]`, the
    id of the object at each place, -1 where a place is empty."""
    values, position = np.asarray(values), np.asarray(position)
    out = np.full((len(values), num_places), -1, np.int32)
    rows, cols = np.nonzero(position >= 0)
    out[rows, position[rows, cols]] = values[rows, cols]
    return out


def attribute_targets(attributes):
    """Training targets of `AttributeClassifier` from shapes attribute arrays.

    Args:
        attributes: mapping with `shape`, `color`, `size`, `position`, int arrays `[n, 2]`
            (-1 where there is no second object), as returned by `shapes.load_split`.

    Returns:
        dict keyed like the classifier's outputs: multi-hot float32 `[n, count]` for
        `color`, `shape`, `size`, `position`; int32 `[n, NUM_PLACES]` ids (-1: empty place)
        for `place_color`, `place_shape`.
    """
    counts = {"color": NUM_COLORS, "shape": NUM_SHAPES, "size": NUM_SIZES, "position": NUM_PLACES}
    targets = {key: multi_hot(attributes[key], count) for key, count in counts.items()}
    for key in ("color", "shape"):
        targets["place_" + key] = per_place(attributes[key], attributes["position"])
    return targets


@keras.saving.register_keras_serializable(package="tfgan_text")
def place_crossentropy(y_true, y_pred):
    """Cross-entropy of the per-place softmax `[B, P, K]` against ids `[B, P]`, averaged over
    the places that hold an object (id >= 0); empty places count nothing."""
    y_true = ops.cast(y_true, "int32")
    mask = ops.cast(y_true >= 0, y_pred.dtype)
    loss = keras.losses.sparse_categorical_crossentropy(ops.maximum(y_true, 0), y_pred)
    return ops.sum(loss * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


# ----------------------------------------------------------------------------- accuracy


def _pair_sets(color, shape, present):
    """Multi-hot `[n, NUM_COLORS * NUM_SHAPES]` of the (colour, shape) pairs of the objects
    (ids `[n, k]`) marked in `present` (bool `[n, k]`)."""
    return multi_hot(np.where(present, color * NUM_SHAPES + shape, -1), NUM_COLORS * NUM_SHAPES)


def set_accuracy(probabilities, attributes, threshold=0.5):
    """Exact-set accuracies of classifier outputs against attribute arrays.

    For each of colour, shape, size and place: the fraction of images whose predicted set
    (probability >= threshold) equals the set the attributes name. `pair_accuracy`: the
    fraction whose set of (colour, shape) pairs equals the named one, where a pair is read at
    each place the `position` head marks, from the argmax of `place_color` and `place_shape`
    there. The pair set ignores places, so an object drawn at the wrong place still counts.

    Args:
        probabilities: dict of numpy arrays keyed like `AttributeClassifier`'s outputs.
        attributes: mapping of int arrays `[n, 2]` (-1: absent), as from `shapes.load_split`.
        threshold: float.

    Returns:
        dict of floats: `color_accuracy`, `shape_accuracy`, `size_accuracy`,
        `position_accuracy`, `pair_accuracy`.
    """
    targets = attribute_targets(attributes)
    predicted = {key: np.asarray(probabilities[key]) >= threshold for key in SET_HEADS}
    result = {
        f"{key}_accuracy": float(np.mean(np.all(predicted[key] == (targets[key] > 0), axis=1)))
        for key in SET_HEADS
    }
    shown = _pair_sets(
        np.argmax(probabilities["place_color"], axis=-1),
        np.argmax(probabilities["place_shape"], axis=-1),
        predicted["position"],
    )
    shape = np.asarray(attributes["shape"])
    named = _pair_sets(np.asarray(attributes["color"]), shape, shape >= 0)
    result["pair_accuracy"] = float(np.mean(np.all(shown == named, axis=1)))
    return result


def predict_probabilities(classifier, images, batch_size=256):
    """The classifier's outputs on `images` (numpy `[n, S, S, 3]`, uint8 or float in [-1, 1]),
    batch by batch, as a dict of numpy arrays."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or not len(images):
        raise UserError(f"images must be a non-empty [n, S, S, 3] array, got shape {images.shape}")
    return classifier.predict(images, batch_size=batch_size, verbose=0)


def attribute_accuracy(classifier, images, attributes, batch_size=256, threshold=0.5):
    """Exact-set accuracies (see `set_accuracy`) of `classifier` on `images`.

    Args:
        classifier: an `AttributeClassifier` (or a model with the same outputs).
        images: numpy `[n, S, S, 3]`, uint8 or float in [-1, 1] (generated images as they are).
        attributes: mapping of int arrays `[n, 2]` (-1: absent): what each image should show.
        batch_size: int, images per forward pass.
        threshold: float, the probability from which a label counts as present.

    Returns:
        dict of floats: `color_accuracy`, `shape_accuracy`, `size_accuracy`,
        `position_accuracy`, `pair_accuracy`.
    """
    if len(images) != len(attributes["color"]):
        raise UserError(
            f"got {len(images)} images but attributes of {len(attributes['color'])} images"
        )
    probabilities = predict_probabilities(classifier, images, batch_size)
    return set_accuracy(probabilities, attributes, threshold)


# ----------------------------------------------------------------------------- training


def train_attribute_classifier(
    image_size=64,
    num_examples=None,
    epochs=DEFAULT_EPOCHS,
    seed=0,
    batch_size=32,
    learning_rate=2e-3,
    verbose=0,
):
    """Trains an `AttributeClassifier` on the real shapes `train` split.

    Adam with a cosine-decayed learning rate; binary cross-entropy on the presence heads and
    `place_crossentropy` on the place heads. `seed` seeds Python, NumPy and TensorFlow
    (`keras.utils.set_random_seed`) for the initial weights and the shuffling; the data are the
    standard split (shapes seed 0, cached by `shapes.load_split`).

    Args:
        image_size: 32, 64 or 128.
        num_examples: int, the first examples of the split to train on; None: all of it.
        epochs: int.
        seed: int.
        batch_size: int.
        learning_rate: float, the initial learning rate.
        verbose: Keras `fit` verbosity.

    Returns:
        the trained, compiled `AttributeClassifier`.
    """
    keras.utils.set_random_seed(seed)
    data = shapes.load_split("train", image_size=image_size, num_examples=num_examples)
    targets = attribute_targets(data)
    classifier = AttributeClassifier(image_size=image_size)
    steps = epochs * -(-len(data["image"]) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    losses = {key: "binary_crossentropy" for key in SET_HEADS}
    losses.update({"place_color": place_crossentropy, "place_shape": place_crossentropy})
    classifier.compile(optimizer=keras.optimizers.Adam(schedule), loss=losses)
    classifier.fit(
        data["image"], targets, batch_size=batch_size, epochs=epochs, shuffle=True,
        verbose=verbose,
    )
    return classifier
