"""Image-conditioned caption discriminator (the evaluator of Dai et al. 2017), as a Keras model."""

import copy

import keras
import tensorflow as tf
from keras import ops

from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.text.vocabulary import END_ID, PAD_ID


def caption_mask(tokens):
    """bool `[B, L]`: the caption's tokens up to and including its first `<end>`.

    `tokens` are word ids without `<start>` (`w1 ... wn <end> 0 ...`); padding and everything
    after the first `<end>` are masked out, so a generated caption that went on after `<end>`
    (it cannot here, but another sampler might) reads as the caption that `<end>` closed.
    """
    tokens = ops.convert_to_tensor(tokens)
    is_end = ops.cast(ops.equal(tokens, END_ID), "int32")
    ends_before = ops.cumsum(is_end, axis=1) - is_end  # <end>s strictly before each position
    return ops.logical_and(ops.not_equal(tokens, PAD_ID), ops.equal(ends_before, 0))


@keras.saving.register_keras_serializable(package="tfgan_text")
class CaptionDiscriminator(keras.Model):
    """Caption discriminator conditioned on the image: P(caption is a real caption of the image).

    The evaluator of Dai et al. 2017 ("Towards Diverse and Natural Image Descriptions via a
    Conditional GAN"): an LSTM reads the caption's word embeddings and its last state is the
    sentence embedding `s`; a CNN feature of the image, projected linearly (`W f + b`), gives
    `v`; the logit is `s . v + c` (`c` a learned scalar bias), so `sigmoid(logit)` is
    `r(I, S)`. A dot product rather than an MLP on both: it is Dai et al.'s form, it makes D
    score *matching* (a fluent caption of another image scores low), and the image side is
    computed once per image however many captions are scored against it (`score`), which the
    Monte Carlo rollouts rely on.

    Captions are word ids WITHOUT `<start>`: `w1 ... wn <end>` then padding 0 (a training
    caption `token_ids[:, 1:]`). The LSTM reads the tokens up to and including the first
    `<end>` (`caption_mask`); later positions are masked. The image encoder is the package's
    own small from-scratch CNN, `ImageEncoder(regions=False)`, unless one is given.

    Inputs are a dict with `image` (float `[B, S, S, 3]` in [-1, 1]) and either `tokens` (int
    `[B, L]`) or `soft_tokens` (float `[B, L, V]`, a relaxed one-hot per position, e.g. a
    straight-through Gumbel-softmax sample, read as `soft_tokens @ embeddings`). With
    `soft_tokens` the mask is taken from their argmax ids, so an exact one-hot gives the same
    logit as its ids. Output: float32 logits `[B]`.

    Args:
        vocabulary_size: int V, number of token ids.
        embedding_dim: int, width of the word embeddings (128, as the captioner's default).
        hidden_dim: int, width of the LSTM state, of the projected image feature and so of the
            space the dot product is taken in (256, as the captioner's default).
        image_encoder: Keras model mapping images `[B, S, S, 3]` to a feature `[B, F]` or a
            dict with a `"global"` entry; default `ImageEncoder(embedding_dim=hidden_dim,
            regions=False)`.
        **kwargs: passed to `keras.Model`.

    Example:
        discriminator = CaptionDiscriminator(vocabulary_size=len(vocabulary))
        logits = discriminator({"image": images, "tokens": token_ids[:, 1:]})
        p_real = keras.ops.sigmoid(logits)

    Reference: Dai, Fidler, Urtasun & Lin 2017, ICCV, section 3 (the evaluator).
    """

    def __init__(self, vocabulary_size, embedding_dim=128, hidden_dim=256, image_encoder=None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.image_encoder = image_encoder or ImageEncoder(
            embedding_dim=hidden_dim, regions=False, name="image_encoder"
        )
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")
        self.sentence_encoder = keras.layers.LSTM(hidden_dim, name="sentence_encoder")
        self.image_projection = keras.layers.Dense(hidden_dim, name="image_projection")

    def build(self, input_shape):
        image_shape = tuple(input_shape["image"])
        self.image_shape = image_shape
        if not self.image_encoder.built:  # a deserialized encoder comes built
            self.image_encoder.build(image_shape)
        spec = self.image_encoder.compute_output_spec(keras.KerasTensor(image_shape))
        feature_dim = (spec["global"] if isinstance(spec, dict) else spec).shape[-1]
        self.image_projection.build((None, feature_dim))
        self.embedding.build((None, None))
        self.sentence_encoder.build((None, None, self.embedding_dim))
        self.logit_bias = self.add_weight(shape=(), initializer="zeros", name="logit_bias")
        self.built = True

    def get_build_config(self):
        return {"image_shape": list(self.image_shape)}

    def build_from_config(self, config):
        self.build({"image": tuple(config["image_shape"])})

    def encode_images(self, images, training=False):
        """float `[B, hidden_dim]`: the projected image feature `W f(I) + b`."""
        features = self.image_encoder(images, training=training)
        features = features["global"] if isinstance(features, dict) else features
        return self.image_projection(features)

    def embed_captions(self, tokens=None, soft_tokens=None):
        """`(embedded [B, L, embedding_dim], mask bool [B, L])` of `tokens [B, L]` or `soft_tokens [B, L, V]`."""
        if (tokens is None) == (soft_tokens is None):
            raise ValueError("give exactly one of tokens and soft_tokens")
        if tokens is not None:
            tokens = ops.convert_to_tensor(tokens)
            return self.embedding(tokens), caption_mask(tokens)
        soft_tokens = tf.cast(tf.convert_to_tensor(soft_tokens), self.compute_dtype)
        embeddings = ops.convert_to_tensor(self.embedding.embeddings, soft_tokens.dtype)
        return ops.matmul(soft_tokens, embeddings), caption_mask(ops.argmax(soft_tokens, axis=-1))

    def encode_embedded(self, embedded, mask, training=False):
        """float `[B, hidden_dim]`: the sentence embedding (the LSTM's last state over the unmasked steps)."""
        return self.sentence_encoder(embedded, mask=mask, training=training)

    def encode_captions(self, tokens=None, soft_tokens=None, training=False):
        """float `[B, hidden_dim]`: the sentence embedding of `tokens` `[B, L]` or `soft_tokens` `[B, L, V]`."""
        return self.encode_embedded(*self.embed_captions(tokens, soft_tokens), training=training)

    def initial_sentence_state(self, batch_size):
        """`[h, c]`, zeros `[batch_size, hidden_dim]`: the sentence LSTM before the first word."""
        zeros = ops.zeros((batch_size, self.hidden_dim), self.compute_dtype)
        return [zeros, zeros]

    def sentence_step(self, tokens, state, training=False):
        """The sentence LSTM's state `[h, c]` after reading `tokens [N]` from `state`.

        Rows whose token is padding keep their state, as the masked LSTM of `encode_captions`
        does, so for captions padded after `<end>` stepping through the words and taking `h`
        gives `encode_captions`. What Monte Carlo rollouts use to read shared prefixes once.
        """
        tokens = ops.convert_to_tensor(tokens)
        _, new_state = self.sentence_encoder.cell(self.embedding(tokens), state, training=training)
        keep = ops.equal(tokens, PAD_ID)[:, None]
        return [ops.where(keep, old, new) for old, new in zip(state, new_state)]

    def match(self, image_features, sentences):
        """float32 logits `[N]`: `sentences . image_features + bias`, both `[N, hidden_dim]`,
        computed in float32 under mixed precision too."""
        products = ops.cast(sentences, "float32") * ops.cast(image_features, "float32")
        return ops.sum(products, axis=-1) + ops.cast(self.logit_bias, "float32")

    def score(self, image_features, tokens=None, soft_tokens=None, training=False):
        """Logits `[N]` of captions against projected image features `[N, hidden_dim]` (`encode_images`)."""
        return self.match(image_features, self.encode_captions(tokens, soft_tokens, training=training))

    def call(self, inputs, training=False):
        """`{"image", "tokens"}` or `{"image", "soft_tokens"}` -> logits `[B]`."""
        image_features = self.encode_images(inputs["image"], training=training)
        return self.score(
            image_features, tokens=inputs.get("tokens"), soft_tokens=inputs.get("soft_tokens"), training=training
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["image_encoder"] = keras.saving.deserialize_keras_object(config["image_encoder"])
        return cls(**config)
