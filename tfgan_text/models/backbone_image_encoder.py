"""DAMSM's image encoder on a frozen pretrained network of `keras.applications` (AttnGAN's Inception-v3)."""

import os
import warnings

import keras
from keras import ops

from tfgan_text.errors import UserError

# Where AttnGAN takes its regions: Inception-v3's Mixed_6e, 17x17x768 at 299 px (Keras's "mixed7":
# mixed3 is Mixed_6a, mixed4-7 are Mixed_6b-6e).
DEFAULT_REGION_LAYERS = {"InceptionV3": "mixed7"}


def backbone_names():
    """The networks of `keras.applications` a `BackboneImageEncoder` can stand on."""
    return sorted(name for name in dir(keras.applications) if name[0].isupper() and callable(getattr(keras.applications, name)))


def check_backbone_name(name):
    """Raises `UserError` unless `name` is one of `backbone_names()`."""
    if name not in backbone_names():
        raise UserError(f"unknown image encoder {name!r}: 'cnn' or a keras.applications network such as "
                        f"InceptionV3, MobileNetV2, ResNet50 (all: {', '.join(backbone_names())})")


def _preprocess_input(backbone):
    """The `preprocess_input` of the `keras.applications` module that defines `backbone`."""
    module = getattr(keras.applications, backbone).__module__.rsplit(".", 1)[1]
    return getattr(keras.applications, module).preprocess_input


def _map_sizes(network):
    """`"name HxW"` of the last layer at each map size of `network`, for an error message."""
    last = {}
    for layer in network.layers:
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4:
            last[tuple(shape[1:3])] = layer.name
    return ", ".join(f"{name} {h}x{w}" for (h, w), name in last.items())


@keras.saving.register_keras_serializable(package="tfgan_text")
class BackboneImageEncoder(keras.Model):
    """DAMSM's image encoder on a frozen pretrained network (Xu et al. 2018, sec. 3.2).

    AttnGAN reads region features from Inception-v3's Mixed_6e map (17x17x768) and a global
    feature from its last average pool (2048), keeps Inception fixed, and trains only a 1x1
    convolution and a linear layer that project both to E. Here the network is any
    `keras.applications` function, built without its top and loaded from a weights file the
    user gives (no download). Images in [-1, 1] of any side are resized (bilinear) to
    `input_size`, mapped to [0, 255] and passed through the application module's own
    `preprocess_input` (for InceptionV3 that is back to [-1, 1]; for ResNet50, BGR with the
    ImageNet means subtracted). Outputs are those of `ImageEncoder`:
    `{"regions": [B, h, w, E], "global": [B, E]}`.

    The network's weights are saved with the model, so a `.keras` file loads without the
    original weights file.

    Args:
        backbone: str, a `keras.applications` function name, e.g. `"InceptionV3"`.
        region_layer: str, the layer whose output map gives the regions (None: InceptionV3's
            `"mixed7"`, Mixed_6e; other networks need it).
        embedding_dim: int, width E of region and global features (AttnGAN: 256).
        input_size: int, the side the network reads (AttnGAN: 299).
        weights: str or None, a weights file of the network without its top
            (`include_top=False`), read when the encoder is built; None leaves random weights.
        **kwargs: passed to `keras.Model`.

    Example:
        >>> encoder = BackboneImageEncoder("InceptionV3", embedding_dim=256, weights="inception_notop.h5")
        >>> out = encoder(images)  # regions [B, 17, 17, 256], global [B, 256]
    """

    regions = True

    def __init__(self, backbone, region_layer=None, embedding_dim=256, input_size=299, weights=None, **kwargs):
        super().__init__(**kwargs)
        check_backbone_name(backbone)
        region_layer = region_layer or DEFAULT_REGION_LAYERS.get(backbone)
        if region_layer is None:
            raise UserError(f"image encoder {backbone} needs a backbone region layer (the layer whose map gives the regions)")
        self.backbone = backbone
        self.region_layer = region_layer
        self.embedding_dim = embedding_dim
        self.input_size = input_size
        network = self._network(backbone, input_size, weights)
        names = {layer.name for layer in network.layers}
        if region_layer not in names:
            raise UserError(f"{backbone} has no layer {region_layer!r}; the last layer of each map size at "
                            f"{input_size} px: {_map_sizes(network)}")
        self.network = keras.Model(network.input, [network.get_layer(region_layer).output, network.output],
                                   name="backbone")
        self.network.trainable = False
        self.preprocess_input = _preprocess_input(backbone)
        self.region_projection = keras.layers.Conv2D(embedding_dim, 1, name="region_projection")
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.global_projection = keras.layers.Dense(embedding_dim, name="global_projection")

    @staticmethod
    def _network(backbone, input_size, weights):
        """The application without its top at `input_size`, with the weights of the file `weights`."""
        try:
            network = getattr(keras.applications, backbone)(include_top=False, weights=None,
                                                            input_shape=(input_size, input_size, 3))
        except ValueError as error:  # e.g. an input smaller than the network takes
            raise UserError(f"{backbone} at {input_size} px: {str(error).strip().splitlines()[0]}") from None
        if weights is not None:
            if not os.path.isfile(weights):
                raise UserError(f"backbone weights: no file {weights}")
            try:
                with warnings.catch_warnings():  # Keras warns of each layer a wrong file does not fill
                    warnings.simplefilter("ignore")
                    network.load_weights(weights)
            except (OSError, ValueError, KeyError) as error:
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise UserError(f"backbone weights {weights} do not fit {backbone} without its top: {first_line}") from None
        return network

    def build(self, input_shape):
        regions, last = self.network.output
        self.region_projection.build(regions.shape)
        self.global_projection.build((None, last.shape[-1]))
        self.built = True

    def call(self, images, training=False):
        x = ops.convert_to_tensor(images, dtype="float32")
        if x.shape[1] != self.input_size or x.shape[2] != self.input_size:
            x = ops.image.resize(x, (self.input_size, self.input_size), interpolation="bilinear")
        regions, last = self.network(self.preprocess_input((x + 1.0) * 127.5), training=False)
        outputs = {"regions": self.region_projection(regions), "global": self.global_projection(self.pool(last))}
        return {name: ops.cast(value, "float32") for name, value in outputs.items()}  # also under mixed precision

    def get_config(self):
        config = super().get_config()
        config.update({"backbone": self.backbone, "region_layer": self.region_layer, "embedding_dim": self.embedding_dim,
                       "input_size": self.input_size})
        return config
