"""Generator and discriminator of the text-conditional DCGAN (Reed et al. 2016, figure 2).

Both are functional Keras models of their own (each saves and exports alone) whose config is
their constructor arguments: `from_config` rebuilds the graph from them.
"""

import keras

from tfgan_text.errors import UserError
from tfgan_text.models.network_options import CONDITIONINGS, UPSAMPLINGS, doubling_steps, generator_hidden_sizes
from tfgan_text.models.text_to_image.word_attention import WordAttention


def _weights():
    """DCGAN initialisation: N(0, 0.02) (Radford et al. 2016; Reed et al. 2016, section 5)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _batch_norm(synchronized, name, affine=True):
    """Batch norm as in DCGAN: gamma ~ N(1, 0.02), Torch's momentum 0.1 (Keras 0.9);
    `affine=False` leaves out gamma and beta."""
    return keras.layers.BatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        center=affine,
        scale=affine,
        gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
        synchronized=synchronized,
        name=name,
    )


def _conditional_batch_norm(x, code, synchronized, name):
    """Batch norm whose per-channel scale and shift are linear maps of `code` [B, C]
    (conditional batch norm, de Vries et al. 2017; as in the generators of Miyato & Koyama
    2018 and BigGAN). Maps start at scale 1, shift 0: plain batch norm without its own affine."""
    width = x.shape[-1]
    x = _batch_norm(synchronized, name, affine=False)(x)
    scale = keras.layers.Dense(width, kernel_initializer="zeros", bias_initializer="ones", name=f"{name}_scale")(code)
    shift = keras.layers.Dense(width, kernel_initializer="zeros", name=f"{name}_shift")(code)
    scale = keras.layers.Reshape((1, 1, width), name=f"{name}_scale_grid")(scale)
    shift = keras.layers.Reshape((1, 1, width), name=f"{name}_shift_grid")(shift)
    x = keras.layers.Multiply(name=f"{name}_scaled")([x, scale])
    return keras.layers.Add(name=f"{name}_shifted")([x, shift])


@keras.saving.register_keras_serializable(package="tfgan_text")
class DCGANGenerator(keras.Model):
    """Text-conditional DCGAN generator `G(z, phi(t))` of Reed et al. 2016.

    The sentence embedding is compressed by Dense + LeakyReLU(0.2) to `condition_dim`,
    concatenated with the noise, projected by a Dense layer to 4x4 x `ngf * min(2**(n-1), 8)`,
    then upsampled by stride-2 `Conv2DTranspose` + BatchNorm + ReLU blocks that halve the width,
    and a last stride-2 `Conv2DTranspose` to 3 channels with tanh. Weights ~ N(0, 0.02).

    Args:
        image_size: int, 32, 64 or 128; output images are `[B, S, S, 3]` in [-1, 1].
        noise_dim: int, size `Z` of the noise `z ~ N(0, 1)` (Reed: 100).
        embedding_dim: int, size `E` of the sentence embedding.
        ngf: int, width of the last hidden block (Reed: 128; default 64 to suit a CPU).
        condition_dim: int, size of the compressed embedding (Reed: 128).
        synchronized_batch_norm: bool, batch statistics over all replicas of a
            `tf.distribute` strategy, so multi-device training matches one device.
        upsampling: str, how each block doubles the map: `"transposed"` (a stride-2 4x4
            transposed convolution, DCGAN) or `"resize"` (nearest-neighbour resize, then a 3x3
            convolution: no checkerboard artifacts, Odena et al. 2016).
        conditioning: str, where the noise and the compressed embedding enter: `"input"` (only
            the first projection, Reed) or `"batch_norm"` (also every upsampling block's batch
            norm, whose scale and shift they set: conditional batch norm, as the class-conditional
            generators of Miyato & Koyama 2018 and BigGAN, so that the caption steers the
            resolutions where shapes are drawn, not only the 4x4 layout).
        attention_sizes: tuple of map sizes (8 up to `image_size // 2`) after whose block
            AttnGAN's word attention (`WordAttention`) concatenates to each place the words it
            attends to; () (default, as Reed): the caption enters as one sentence vector only.
        words_dim: int, size of the word features (the text encoder's), with `attention_sizes`.
        **kwargs: passed to `keras.Model` (`name`, `trainable`, `dtype`).

    Inputs: a dict `{"noise": float [B, Z], "embedding": float [B, E]}`; with `attention_sizes`
    also `"words": float [B, T, words_dim]` and `"word_mask": float [B, T]` (1 for words).

    Example:
        >>> g = DCGANGenerator(image_size=32, embedding_dim=16, ngf=8)
        >>> g({"noise": keras.random.normal((2, 100)), "embedding": keras.ops.ones((2, 16))}).shape
        (2, 32, 32, 3)
    """

    def __init__(
        self,
        image_size=64,
        noise_dim=100,
        embedding_dim=256,
        ngf=64,
        condition_dim=128,
        synchronized_batch_norm=True,
        upsampling="transposed",
        conditioning="input",
        attention_sizes=(),
        words_dim=256,
        **kwargs,
    ):
        doublings = doubling_steps(image_size)
        attention_sizes = tuple(sorted(int(size) for size in attention_sizes))
        hidden_sizes = generator_hidden_sizes(image_size)
        for size in attention_sizes:
            if size not in hidden_sizes:
                raise UserError(f"word attention sizes must be among G's hidden map sizes {hidden_sizes} at image "
                                f"size {image_size}, got {size}")
        if upsampling not in UPSAMPLINGS:
            raise UserError(f"upsampling must be one of {', '.join(UPSAMPLINGS)}, got {upsampling!r}")
        if conditioning not in CONDITIONINGS:
            raise UserError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}")

        def up(filters, name, **options):
            if upsampling == "transposed":
                return keras.layers.Conv2DTranspose(
                    filters, 4, strides=2, padding="same", kernel_initializer=_weights(), name=name, **options
                )
            return keras.Sequential([keras.layers.UpSampling2D(2, interpolation="nearest"),
                                     keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer=_weights(),
                                                         **options)], name=name)

        widths = [ngf * min(2**i, 8) for i in reversed(range(doublings))]

        noise = keras.Input((noise_dim,), name="noise")
        embedding = keras.Input((embedding_dim,), name="embedding")
        inputs = {"noise": noise, "embedding": embedding}
        if attention_sizes:
            inputs["words"] = keras.Input((None, words_dim), name="words")
            inputs["word_mask"] = keras.Input((None,), name="word_mask")
        condition = keras.layers.Dense(condition_dim, kernel_initializer=_weights(), name="condition")(embedding)
        condition = keras.layers.LeakyReLU(0.2, name="condition_act")(condition)
        code = keras.layers.Concatenate(name="noise_and_condition")([noise, condition])
        x = keras.layers.Dense(4 * 4 * widths[0], use_bias=False, kernel_initializer=_weights(), name="project")(code)
        x = keras.layers.Reshape((4, 4, widths[0]), name="project_reshape")(x)
        x = _batch_norm(synchronized_batch_norm, "project_bn")(x)
        x = keras.layers.ReLU(name="project_act")(x)
        for i, width in enumerate(widths[1:]):
            x = up(width, f"up{i}", use_bias=False)(x)
            if conditioning == "batch_norm":
                x = _conditional_batch_norm(x, code, synchronized_batch_norm, f"up{i}_bn")
            else:
                x = _batch_norm(synchronized_batch_norm, f"up{i}_bn")(x)
            x = keras.layers.ReLU(name=f"up{i}_act")(x)
            if x.shape[1] in attention_sizes:
                x = WordAttention(name=f"up{i}_word_attention")((x, inputs["words"], inputs["word_mask"]))
        x = up(3, "to_rgb")(x)
        image = keras.layers.Activation("tanh", dtype="float32", name="image")(x)
        super().__init__(inputs=inputs, outputs=image, **kwargs)

        self.image_size = image_size
        self.noise_dim = noise_dim
        self.embedding_dim = embedding_dim
        self.ngf = ngf
        self.condition_dim = condition_dim
        self.synchronized_batch_norm = synchronized_batch_norm
        self.upsampling = upsampling
        self.conditioning = conditioning
        self.attention_sizes = attention_sizes
        self.words_dim = words_dim

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "upsampling": self.upsampling,
                "conditioning": self.conditioning,
                "attention_sizes": list(self.attention_sizes),
                "words_dim": self.words_dim,
                "noise_dim": self.noise_dim,
                "embedding_dim": self.embedding_dim,
                "ngf": self.ngf,
                "condition_dim": self.condition_dim,
                "synchronized_batch_norm": self.synchronized_batch_norm,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfgan_text")
class DCGANDiscriminator(keras.Model):
    """Matching-aware DCGAN discriminator `D(x, phi(t))` of Reed et al. 2016; returns logits.

    Stride-2 4x4 convolutions + LeakyReLU(0.2) take the image down to 4x4, doubling the width
    from `ndf` up to `ndf * 8`, with BatchNorm on every layer but the first. At 4x4 the sentence
    embedding, compressed by Dense + LeakyReLU(0.2) to `condition_dim`, is replicated over the
    4x4 grid and concatenated in depth; a 1x1 convolution + BatchNorm + LeakyReLU and a 4x4
    valid convolution give one logit. Weights ~ N(0, 0.02).

    With `spectral_norm=True` every convolution is wrapped in
    `keras.layers.SpectralNormalization` (Miyato et al. 2018) and batch norm is dropped.

    Args:
        image_size: int, 32, 64 or 128.
        embedding_dim: int, size `E` of the sentence embedding.
        ndf: int, width of the first convolution (Reed: 64).
        condition_dim: int, size of the compressed embedding (Reed: 128).
        spectral_norm: bool, spectral normalisation instead of batch norm.
        synchronized_batch_norm: bool, batch statistics over all replicas of a
            `tf.distribute` strategy.
        projection: bool, add the projection term of Miyato & Koyama 2018 to the logit: the
            inner product of the pooled 4x4 image features with a linear map of the sentence
            embedding, a direct measure of how well image and text match.
        **kwargs: passed to `keras.Model` (`name`, `trainable`, `dtype`).

    Inputs: a dict `{"image": float [B, S, S, 3], "embedding": float [B, E]}`.
    Output: float logits `[B, 1]`.

    Example:
        >>> d = DCGANDiscriminator(image_size=32, embedding_dim=16, ndf=8)
        >>> d({"image": keras.ops.zeros((2, 32, 32, 3)), "embedding": keras.ops.ones((2, 16))}).shape
        (2, 1)
    """

    def __init__(
        self,
        image_size=64,
        embedding_dim=256,
        ndf=64,
        condition_dim=128,
        spectral_norm=False,
        synchronized_batch_norm=True,
        projection=False,
        **kwargs,
    ):
        doublings = doubling_steps(image_size)

        def conv(filters, kernel_size, strides, padding, name, normalized=False):
            layer = keras.layers.Conv2D(
                filters,
                kernel_size,
                strides=strides,
                padding=padding,
                use_bias=spectral_norm or not normalized,  # batch norm's beta is the bias
                kernel_initializer=_weights(),
                name=name,
            )
            if spectral_norm:
                return keras.layers.SpectralNormalization(layer, name=f"{name}_sn")
            return layer

        def normalize(x, name):
            return x if spectral_norm else _batch_norm(synchronized_batch_norm, name)(x)

        image = keras.Input((image_size, image_size, 3), name="image")
        embedding = keras.Input((embedding_dim,), name="embedding")
        x = image
        for i in range(doublings):
            x = conv(ndf * min(2**i, 8), 4, 2, "same", f"down{i}", normalized=i > 0)(x)
            if i > 0:
                x = normalize(x, f"down{i}_bn")
            x = keras.layers.LeakyReLU(0.2, name=f"down{i}_act")(x)
        image_features = x
        condition = keras.layers.Dense(condition_dim, kernel_initializer=_weights(), name="condition")(embedding)
        condition = keras.layers.LeakyReLU(0.2, name="condition_act")(condition)
        condition = keras.layers.RepeatVector(4 * 4, name="condition_tile")(condition)
        condition = keras.layers.Reshape((4, 4, condition_dim), name="condition_grid")(condition)
        x = keras.layers.Concatenate(name="image_and_condition")([x, condition])
        x = conv(ndf * min(2 ** (doublings - 1), 8), 1, 1, "valid", "joint", normalized=True)(x)
        x = normalize(x, "joint_bn")
        x = keras.layers.LeakyReLU(0.2, name="joint_act")(x)
        x = conv(1, 4, 1, "valid", "score")(x)
        if projection:
            x = keras.layers.Reshape((1,), name="score_flat")(x)
            pooled = keras.layers.GlobalAveragePooling2D(name="projection_pool")(image_features)
            projected = keras.layers.Dense(image_features.shape[-1], use_bias=False, kernel_initializer=_weights(),
                                           name="projection")(embedding)
            match = keras.layers.Dot(axes=1, name="projection_match")([pooled, projected])
            x = keras.layers.Add(name="score_and_match")([x, match])
        logits = keras.layers.Reshape((1,), dtype="float32", name="logits")(x)
        super().__init__(inputs={"image": image, "embedding": embedding}, outputs=logits, **kwargs)

        self.image_size = image_size
        self.embedding_dim = embedding_dim
        self.ndf = ndf
        self.condition_dim = condition_dim
        self.spectral_norm = spectral_norm
        self.synchronized_batch_norm = synchronized_batch_norm
        self.projection = projection

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "embedding_dim": self.embedding_dim,
                "projection": self.projection,
                "ndf": self.ndf,
                "condition_dim": self.condition_dim,
                "spectral_norm": self.spectral_norm,
                "synchronized_batch_norm": self.synchronized_batch_norm,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
