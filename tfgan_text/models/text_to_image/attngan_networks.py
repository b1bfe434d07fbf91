"""AttnGAN's multi-stage attentional generator and its stage discriminators (Xu et al. 2018).

Xu et al. 2018, "AttnGAN: Fine-Grained Text to Image Generation with Attentional Generative
Adversarial Networks" (CVPR), section 3.1 and their released networks: conditioning
augmentation (Zhang et al. 2017, StackGAN), an initial stage from noise and the conditioned
code, then stages that each attend to the caption's words, refine the map with residual blocks
and double its size; one image head per stage; upsampling and residual blocks use gated linear
units (Dauphin et al. 2017). Each stage's image has its own discriminator with an unconditional
logit and a sentence-conditional one.

Both networks are subclassed Keras models whose config is their constructor arguments.
"""

import math

import keras
from keras import ops

from tfgan_text.errors import UserError
from tfgan_text.models.network_options import ATTNGAN_BASE_SIZES as BASE_SIZES
from tfgan_text.models.network_options import ATTNGAN_MAX_STAGES as MAX_STAGES
from tfgan_text.models.text_to_image.word_attention import WordAttention


def _batch_norm(synchronized, name):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=synchronized, name=name)


def _glu(x):
    """Gated linear unit over channels: the first half times the sigmoid of the second."""
    half = x.shape[-1] // 2
    return x[..., :half] * ops.sigmoid(x[..., half:])


def _conv(filters, kernel, name, strides=1, padding="same", use_bias=False):
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=use_bias, name=name)


class _UpBlock(keras.layers.Layer):
    """Nearest-neighbour x2, 3x3 convolution, batch norm, GLU (AttnGAN's `upBlock`)."""

    def __init__(self, filters, synchronized, **kwargs):
        super().__init__(**kwargs)
        self.upsample = keras.layers.UpSampling2D(2, interpolation="nearest")
        self.conv = _conv(2 * filters, 3, "conv")
        self.norm = _batch_norm(synchronized, "norm")

    def build(self, input_shape):
        self.upsample.build(input_shape)
        shape = self.upsample.compute_output_shape(input_shape)
        self.conv.build(shape)
        self.norm.build(self.conv.compute_output_shape(shape))

    def call(self, x, training=False):
        return _glu(self.norm(self.conv(self.upsample(x)), training=training))


class _ResidualBlock(keras.layers.Layer):
    """`x + BN(conv(GLU(BN(conv(x)))))` with 3x3 convolutions (AttnGAN's `ResBlock`)."""

    def __init__(self, synchronized, **kwargs):
        super().__init__(**kwargs)
        self.synchronized = synchronized

    def build(self, input_shape):
        width = input_shape[-1]
        self.conv1, self.norm1 = _conv(2 * width, 3, "conv1"), _batch_norm(self.synchronized, "norm1")
        self.conv2, self.norm2 = _conv(width, 3, "conv2"), _batch_norm(self.synchronized, "norm2")
        self.conv1.build(input_shape)
        self.norm1.build((*input_shape[:-1], 2 * width))
        self.conv2.build(input_shape)
        self.norm2.build(input_shape)

    def call(self, x, training=False):
        y = _glu(self.norm1(self.conv1(x), training=training))
        return x + self.norm2(self.conv2(y), training=training)


@keras.saving.register_keras_serializable(package="tfgan_text")
class AttnGANGenerator(keras.Model):
    """AttnGAN's generator: conditioning augmentation, stage 0, then attentional stages.

    Conditioning augmentation maps the sentence feature by a linear layer and GLU to the mean
    and log-variance of a Gaussian of `condition_dim` values and draws the code
    `c = mu + exp(logvar / 2) * eps`. Stage 0 maps `[c, z]` by a linear layer to a 4x4 map of
    `ngf * base_size / 4` channels and upsampling blocks halve the channels up to
    `base_size` x `base_size` x `ngf`. Each further stage concatenates to every place its
    word-context vector (`WordAttention`), runs `residual_blocks` residual blocks and doubles
    the map. Every stage has an image head (3x3 convolution, tanh).

    The noise input holds `z` (its first `latent_dim` values) and then `eps`
    (`condition_dim` values), so that an image is a function of the caption and one noise
    vector, the vector the package's seed rule gives (`noise_dim = latent_dim + condition_dim`).

    Args:
        base_size: int, the first stage's image side (AttnGAN: 64).
        stages: int, the number of stages K; the last image is `base_size * 2**(K - 1)`
            (AttnGAN: 3, 64/128/256).
        latent_dim: int, size of `z` (AttnGAN: 100).
        condition_dim: int, size of the conditioned code (AttnGAN: 100).
        embedding_dim: int, size of the sentence feature.
        words_dim: int, size of the word features.
        ngf: int, channels of every stage after stage 0 (AttnGAN: 32).
        residual_blocks: int, residual blocks per attentional stage (AttnGAN: 2).
        synchronized_batch_norm: bool, batch statistics over all replicas of a strategy.
        **kwargs: passed to `keras.Model`.

    Inputs: `{"noise": [B, noise_dim], "embedding": [B, E], "words": [B, T, W],
    "word_mask": float [B, T]}`.

    Returns: `{"images": [K float32 images [B, s_k, s_k, 3] in [-1, 1]], "attention": [K - 1 maps
    [B, s_k / 2, s_k / 2, T]: the weight of each word at each place of the map a stage
    attends over], "mu": [B, C], "logvar": [B, C]}`.

    Example:
        >>> g = AttnGANGenerator(base_size=16, stages=2, embedding_dim=8, words_dim=8, ngf=4)
        >>> out = g({"noise": ops.ones((2, 200)), "embedding": ops.ones((2, 8)),
        ...          "words": ops.ones((2, 5, 8)), "word_mask": ops.ones((2, 5))})
        >>> [image.shape for image in out["images"]]  # [(2, 16, 16, 3), (2, 32, 32, 3)]
    """

    def __init__(self, base_size=64, stages=3, latent_dim=100, condition_dim=100, embedding_dim=256, words_dim=256,
                 ngf=32, residual_blocks=2, synchronized_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        if base_size not in BASE_SIZES:
            raise UserError(f"base size must be one of {', '.join(map(str, BASE_SIZES))}, got {base_size!r}")
        if stages not in range(1, MAX_STAGES + 1):
            raise UserError(f"stages must be in [1, {MAX_STAGES}], got {stages!r}")
        self.base_size = base_size
        self.stages = stages
        self.latent_dim = latent_dim
        self.condition_dim = condition_dim
        self.embedding_dim = embedding_dim
        self.words_dim = words_dim
        self.ngf = ngf
        self.residual_blocks = residual_blocks
        self.synchronized_batch_norm = synchronized_batch_norm
        self.noise_dim = latent_dim + condition_dim
        self.image_size = base_size * 2 ** (stages - 1)
        self.sizes = [base_size * 2**k for k in range(stages)]
        sync = synchronized_batch_norm
        doublings = int(math.log2(base_size // 4))
        self.conditioning = keras.layers.Dense(4 * condition_dim, name="conditioning")
        self.initial_width = ngf * 2**doublings
        self.initial = keras.layers.Dense(4 * 4 * 2 * self.initial_width, use_bias=False, name="initial")
        self.initial_norm = _batch_norm(sync, "initial_norm")
        self.initial_blocks = [_UpBlock(self.initial_width // 2 ** (i + 1), sync, name=f"initial_up{i}")
                               for i in range(doublings)]
        self.attention = [WordAttention(return_weights=True, name=f"attention{k}") for k in range(1, stages)]
        self.residuals = [[_ResidualBlock(sync, name=f"stage{k}_residual{i}") for i in range(residual_blocks)]
                          for k in range(1, stages)]
        self.stage_up = [_UpBlock(ngf, sync, name=f"stage{k}_up") for k in range(1, stages)]
        self.heads = [_conv(3, 3, f"image{k}", use_bias=True) for k in range(stages)]
        self.build(None)  # the shapes follow from the arguments; `condition` may be called first

    def build(self, input_shape):
        self.conditioning.build((None, self.embedding_dim))
        self.initial.build((None, self.noise_dim))
        self.initial_norm.build((None, 4 * 4 * 2 * self.initial_width))
        shape = (None, 4, 4, self.initial_width)
        for block in self.initial_blocks:
            block.build(shape)
            shape = (None, 2 * shape[1], 2 * shape[2], block.conv.filters // 2)
        self.heads[0].build(shape)
        for k in range(1, self.stages):
            self.attention[k - 1].build((shape, (None, None, self.words_dim), (None, None)))
            joined = (*shape[:-1], 2 * self.ngf)
            for block in self.residuals[k - 1]:
                block.build(joined)
            self.stage_up[k - 1].build(joined)
            shape = (None, 2 * shape[1], 2 * shape[2], self.ngf)
            self.heads[k].build(shape)
        self.built = True

    def condition(self, embedding, eps):
        """Conditioning augmentation: `(c, mu, logvar)` of sentence features `[B, E]` and `eps` `[B, C]`."""
        statistics = _glu(self.conditioning(embedding))
        mu, logvar = statistics[:, : self.condition_dim], statistics[:, self.condition_dim :]
        return mu + ops.exp(0.5 * logvar) * eps, mu, logvar

    def call(self, inputs, training=False):
        noise = ops.convert_to_tensor(inputs["noise"])
        code, mu, logvar = self.condition(inputs["embedding"], noise[:, self.latent_dim :])
        x = self.initial(ops.concatenate([code, noise[:, : self.latent_dim]], axis=-1))
        x = _glu(self.initial_norm(x, training=training))
        x = ops.reshape(x, (-1, 4, 4, self.initial_width))
        for block in self.initial_blocks:
            x = block(x, training=training)
        images, maps = [self._image(0, x)], []
        for k in range(1, self.stages):
            x, weights = self.attention[k - 1]((x, inputs["words"], inputs["word_mask"]))
            maps.append(weights)
            for block in self.residuals[k - 1]:
                x = block(x, training=training)
            x = self.stage_up[k - 1](x, training=training)
            images.append(self._image(k, x))
        return {"images": images, "attention": maps, "mu": mu, "logvar": logvar}

    def _image(self, stage, x):
        """float32 images in [-1, 1] of stage `stage`'s head on the map `x` (also under mixed precision)."""
        return ops.tanh(ops.cast(self.heads[stage](x), "float32"))

    def get_config(self):
        config = super().get_config()
        config.update({
            "base_size": self.base_size, "stages": self.stages, "latent_dim": self.latent_dim,
            "condition_dim": self.condition_dim, "embedding_dim": self.embedding_dim, "words_dim": self.words_dim,
            "ngf": self.ngf, "residual_blocks": self.residual_blocks,
            "synchronized_batch_norm": self.synchronized_batch_norm,
        })
        return config


@keras.saving.register_keras_serializable(package="tfgan_text")
class StageDiscriminator(keras.Model):
    """One AttnGAN discriminator: an image code, an unconditional and a conditional logit.

    The image is encoded by stride-2 4x4 convolutions (batch norm after the first, LeakyReLU
    0.2), widths `ndf, 2 ndf, ...` up to `16 ndf`, down to a 4x4 map, then a 3x3 convolution
    to `8 ndf` channels (AttnGAN's `D_NET64/128/256`). The unconditional logit is a 4x4
    convolution of the code; the conditional one joins the sentence feature to every place
    first (a 3x3 convolution, then the 4x4 one).

    Args:
        image_size: int, the side of the images this stage judges (a power of 2, >= 16).
        embedding_dim: int, size of the sentence feature.
        ndf: int, width of the first convolution (AttnGAN: 64).
        synchronized_batch_norm: bool, batch statistics over all replicas of a strategy.
        **kwargs: passed to `keras.Model`.

    `encode(images)` gives the code `[B, 4, 4, 8 ndf]`; `logits(code, embedding)` gives
    `{"unconditional": [B, 1], "conditional": [B, 1]}` (float32, before the sigmoid); calling
    the model on `{"image", "embedding"}` does both. A real image is encoded once for its right
    and its wrong caption.
    """

    def __init__(self, image_size=64, embedding_dim=256, ndf=64, synchronized_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        if image_size < 16 or image_size & (image_size - 1):
            raise UserError(f"a stage discriminator needs a power-of-2 image size >= 16, got {image_size!r}")
        self.image_size = image_size
        self.embedding_dim = embedding_dim
        self.ndf = ndf
        self.synchronized_batch_norm = synchronized_batch_norm
        sync = synchronized_batch_norm
        layers = []
        for i in range(int(math.log2(image_size // 4))):
            layers.append(_conv(ndf * min(2**i, 16), 4, f"down{i}", strides=2))
            if i:
                layers.append(_batch_norm(sync, f"down{i}_norm"))
            layers.append(keras.layers.LeakyReLU(0.2))
        layers += [_conv(8 * ndf, 3, "code"), _batch_norm(sync, "code_norm"), keras.layers.LeakyReLU(0.2)]
        self.encoder = keras.Sequential(layers, name="encoder")
        self.unconditional = _conv(1, 4, "unconditional", padding="valid", use_bias=True)
        self.joint = keras.Sequential([_conv(8 * ndf, 3, "joint"), _batch_norm(sync, "joint_norm"),
                                       keras.layers.LeakyReLU(0.2)], name="joint")
        self.conditional = _conv(1, 4, "conditional", padding="valid", use_bias=True)
        self.build(None)  # the shapes follow from the arguments; `encode` may be called first

    def build(self, input_shape):
        self.encoder.build((None, self.image_size, self.image_size, 3))
        code = (None, 4, 4, 8 * self.ndf)
        self.unconditional.build(code)
        self.joint.build((None, 4, 4, 8 * self.ndf + self.embedding_dim))
        self.conditional.build(code)
        self.built = True

    def encode(self, images, training=False):
        return self.encoder(images, training=training)

    def logits(self, code, embedding, training=False):
        places = ops.broadcast_to(embedding[:, None, None, :], (ops.shape(code)[0], 4, 4, self.embedding_dim))
        joint = self.joint(ops.concatenate([code, ops.cast(places, code.dtype)], axis=-1), training=training)
        return {"unconditional": ops.cast(ops.reshape(self.unconditional(code), (-1, 1)), "float32"),
                "conditional": ops.cast(ops.reshape(self.conditional(joint), (-1, 1)), "float32")}

    def call(self, inputs, training=False):
        return self.logits(self.encode(inputs["image"], training=training), inputs["embedding"], training=training)

    def get_config(self):
        config = super().get_config()
        config.update({"image_size": self.image_size, "embedding_dim": self.embedding_dim, "ndf": self.ndf,
                       "synchronized_batch_norm": self.synchronized_batch_norm})
        return config
