"""A matching-aware discriminator that reads a frozen pretrained image encoder's features.

Projected GANs (Sauer et al. 2021, "Projected GANs Converge Faster") and Vision-aided GANs
(Kumari et al. 2022) train only small heads on the feature maps of a frozen pretrained
network: the features already tell things apart, so D learns in few steps what a D trained
from pixels needs many for, and G gets gradients towards what those features see. Here the
pretrained network is stage 1's image encoder (`ImageEncoder`), trained on the same data to
match images with captions, so its maps already tell shapes and colours apart.

Unlike a frozen teacher of a matching loss, which G learns to fool by drawing what the
teacher reads as the named shape, the heads keep learning against G: they see how generated
maps differ from real ones at every level, not only at the last.
"""

import math

import keras
from keras import ops

from tfgan_text.errors import UserError
from tfgan_text.models.text_to_image.dcgan_networks import _batch_norm, _weights
from tfgan_text.models.freezing import set_trainable
from tfgan_text.models.image_encoder import ImageEncoder


@keras.saving.register_keras_serializable(package="tfgan_text")
class EncoderFeatureDiscriminator(keras.Model):
    """`D(x, phi(t))` on the feature maps of a frozen `ImageEncoder`; returns logits.

    The encoder's last `levels` maps (finest first) are read from coarse to fine: starting
    from the finest, a stride-2 4x4 convolution + batch norm + LeakyReLU(0.2) halves the map,
    which is concatenated in depth with the next map, down to the last (4x4 at 64 px). There,
    as in `DCGANDiscriminator`, the compressed sentence embedding is replicated and
    concatenated, a 1x1 convolution + batch norm + LeakyReLU and a valid convolution over the
    whole map give a logit, and the projection term of Miyato & Koyama 2018 (pooled features
    . a linear map of the embedding) is added. Only the heads train; the encoder is frozen
    (`trainable = False`, batch norm in inference mode) unless `fine_tune_encoder`.

    With `patch_head`, a second, unconditional head of its own judges patches of the pixels as
    real or fake: a PatchGAN (Isola et al. 2017) of stride-2 4x4 convolutions + LeakyReLU(0.2)
    down to the encoder's next-to-last map size (8x8 at 64 px, each cell seeing 22 px, a whole
    object), then a 1x1 convolution to a logit per cell. It reads pixels, not the frozen
    features: the encoder, trained to match captions, is blind to what it never needed, such as
    the dark smudges G draws beside objects, and so are heads on its features.

    With `fine_tune_encoder`, the encoder's convolution blocks train with the heads (its batch
    norm stays in inference mode, on stage 1's statistics): D starts from what stage 1 learned
    but is no longer held to it. A frozen encoder shares its blindness with the matching loss's teacher,
    the same network: a figure that stage 1's encoder reads as a star looks like a star to the
    heads too, whatever the pixels show.

    Args:
        image_encoder: a built `ImageEncoder` (stage 1's), frozen here unless `fine_tune_encoder`.
        embedding_dim: int, size `E` of the sentence embedding.
        width: int, width of the heads' convolutions.
        levels: int >= 1, how many of the encoder's last maps are read.
        condition_dim: int, size of the compressed embedding.
        synchronized_batch_norm: bool, batch statistics over all replicas of a strategy.
        patch_head: bool, add the unconditional patch head.
        fine_tune_encoder: bool, the encoder's convolution blocks train with D's heads (default: frozen).
        **kwargs: passed to `keras.Model`.

    Inputs: a dict `{"image": float [B, S, S, 3] in [-1, 1], "embedding": float [B, E]}`.
    Output: float logits `[B, 1]`; with `patch_head` a dict `{"logits": [B, 1],
    "patch_logits": [B, h, w, 1]}`.

    Example:
        >>> encoder = ImageEncoder(embedding_dim=16, filters=(8, 16, 32, 64)); encoder.build((None, 64, 64, 3))
        >>> d = EncoderFeatureDiscriminator(encoder, embedding_dim=16, width=16)
        >>> d({"image": keras.ops.zeros((2, 64, 64, 3)), "embedding": keras.ops.ones((2, 16))}).shape
        (2, 1)
    """

    def __init__(self, image_encoder, embedding_dim=256, width=64, levels=3, condition_dim=128,
                 synchronized_batch_norm=True, patch_head=False, fine_tune_encoder=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(image_encoder, ImageEncoder):
            raise UserError(f"image_encoder must be an ImageEncoder, got {type(image_encoder).__name__}")
        if not 1 <= levels <= len(image_encoder.filters):
            raise UserError(f"levels must be in [1, {len(image_encoder.filters)}] for this encoder, got {levels}")
        self.image_encoder = image_encoder
        self.fine_tune_encoder = bool(fine_tune_encoder)
        set_trainable(self.image_encoder, self.fine_tune_encoder)
        if self.fine_tune_encoder:  # only its convolution blocks: D reads their maps, not the projections
            for projection in (image_encoder.global_projection, getattr(image_encoder, "region_projection", None)):
                if projection is not None:
                    set_trainable(projection, False)
        self.embedding_dim = embedding_dim
        self.width = width
        self.levels = levels
        self.condition_dim = condition_dim
        self.synchronized_batch_norm = synchronized_batch_norm
        self.patch_head = patch_head
        self.downs = [
            keras.Sequential([
                keras.layers.Conv2D(width, 4, strides=2, padding="same", use_bias=False, kernel_initializer=_weights()),
                _batch_norm(synchronized_batch_norm, f"down{i}_bn"),
                keras.layers.LeakyReLU(0.2),
            ], name=f"down{i}")
            for i in range(levels - 1)
        ]
        self.condition = keras.Sequential([
            keras.layers.Dense(condition_dim, kernel_initializer=_weights()),
            keras.layers.LeakyReLU(0.2),
        ], name="condition")
        self.joint = keras.Sequential([
            keras.layers.Conv2D(width, 1, use_bias=False, kernel_initializer=_weights()),
            _batch_norm(synchronized_batch_norm, "joint_bn"),
            keras.layers.LeakyReLU(0.2),
        ], name="joint")
        # Known in build, from the image size: the patch head's depth.
        self.patch = None
        # Known in build, from the last map's shape: the projection's width, the score's kernel
        # (a valid convolution over the whole map).
        self.projection = None
        self.score = None

    def build(self, input_shape):
        image_shape = tuple(input_shape["image"])
        if not self.image_encoder.built:
            self.image_encoder.build(image_shape)
        all_shapes = self.image_encoder.feature_map_shapes(image_shape)
        if self.patch_head:
            self.patch = self._patch_network(image_shape[1] // all_shapes[-2][1])
            self.patch.build(image_shape)
        shapes = all_shapes[-self.levels:]
        x = shapes[0]
        for down, shape in zip(self.downs, shapes[1:]):
            down.build(x)
            x = shape[:-1] + (self.width + shape[-1],)
        self.condition.build((None, self.embedding_dim))
        self.joint.build(x[:-1] + (x[-1] + self.condition_dim,))
        self.projection = keras.layers.Dense(x[-1], use_bias=False, kernel_initializer=_weights(), name="projection")
        self.projection.build((None, self.embedding_dim))
        self.score = keras.layers.Conv2D(1, (x[1], x[2]), kernel_initializer=_weights(), name="score")
        self.score.build(x[:-1] + (self.width,))
        self.built = True

    def call(self, inputs, training=False):
        all_maps = self.image_encoder.feature_maps(inputs["image"], training=False)
        maps = all_maps[-self.levels:]
        x = maps[0]
        for down, finer in zip(self.downs, maps[1:]):
            x = ops.concatenate([down(x, training=training), finer], axis=-1)
        condition = self.condition(inputs["embedding"])
        grid = ops.tile(condition[:, None, None, :], (1, x.shape[1], x.shape[2], 1))
        joint = self.joint(ops.concatenate([x, grid], axis=-1), training=training)
        logits = ops.reshape(self.score(joint), (-1, 1))
        match = ops.sum(ops.mean(x, axis=(1, 2)) * self.projection(inputs["embedding"]), axis=-1, keepdims=True)
        logits = ops.cast(logits + match, "float32")
        if self.patch is None:
            return logits
        return {"logits": logits, "patch_logits": ops.cast(self.patch(inputs["image"]), "float32")}

    def _patch_network(self, downscale):
        """The patch head: log2(`downscale`) stride-2 convolutions, widths doubling from `width`
        up to twice it, then a 1x1 convolution to one logit per cell."""
        layers = []
        for i in range(int(math.log2(downscale))):
            layers += [keras.layers.Conv2D(self.width * min(2**i, 2), 4, strides=2, padding="same",
                                           kernel_initializer=_weights()),
                       keras.layers.LeakyReLU(0.2)]
        return keras.Sequential([*layers, keras.layers.Conv2D(1, 1, kernel_initializer=_weights())], name="patch")

    def get_config(self):
        config = super().get_config()
        config.update({
            "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
            "embedding_dim": self.embedding_dim,
            "width": self.width,
            "levels": self.levels,
            "condition_dim": self.condition_dim,
            "synchronized_batch_norm": self.synchronized_batch_norm,
            "patch_head": self.patch_head,
            "fine_tune_encoder": self.fine_tune_encoder,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["image_encoder"] = keras.saving.deserialize_keras_object(config["image_encoder"])
        return cls(**config)
