"""AttnGAN's word attention: each place of an image feature map reads the caption's words.

Xu et al. 2018, "AttnGAN: Fine-Grained Text to Image Generation with Attentional Generative
Adversarial Networks", section 3.1 (equations 5-6): the word features are mapped into the
feature space of the image map by a perceptron, each place j of the map weighs the words by a
softmax over the similarities of its features and the mapped words, and the weighted sum of
the words (the word-context vector of place j) is concatenated to its features. A generator
conditioned on one sentence vector must decode from it which object goes where; with word
attention, the place of an object can read that object's words directly (the words' features
come from a bidirectional RNN, so each carries the context of its object).
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfgan_text")
class WordAttention(keras.layers.Layer):
    """Concatenates to each place of a feature map its word-context vector.

    Similarities are scaled by 1 / sqrt(channels) (Vaswani et al. 2017), which AttnGAN does not
    do: it keeps the softmax soft at the start of training, when features are large.

    Call with `(features, words, word_mask)`:
        features: float `[B, H, W, C]`.
        words: float `[B, T, E]`, the text encoder's word features.
        word_mask: float `[B, T]`, 1 for words, 0 for padding. A caption with no words gives a
            zero context.

    Returns:
        float `[B, H, W, 2C]`: the features, then the context; with `return_weights`, the pair
        of that and the attention weights, float32 `[B, H, W, T]` (each place's weights over the
        words, a softmax taken in float32 under mixed precision too).

    Args:
        return_weights: bool, also return the weights (AttnGAN's attention maps).
        **kwargs: passed to `keras.layers.Layer`.

    Example:
        >>> attention = WordAttention()
        >>> attention((keras.ops.ones((2, 8, 8, 16)), keras.ops.ones((2, 5, 32)), keras.ops.ones((2, 5)))).shape
        (2, 8, 8, 32)
    """

    def __init__(self, return_weights=False, **kwargs):
        super().__init__(**kwargs)
        self.return_weights = return_weights

    def build(self, input_shape):
        features_shape, words_shape, _ = input_shape
        self.word_projection = keras.layers.Dense(
            features_shape[-1], use_bias=False,
            kernel_initializer=keras.initializers.RandomNormal(mean=0.0, stddev=0.02), name="word_projection",
        )
        self.word_projection.build(words_shape)
        self.built = True

    def call(self, inputs):
        features, words, word_mask = inputs
        height, width, channels = features.shape[1], features.shape[2], features.shape[3]
        places = ops.reshape(features, (-1, height * width, channels))
        words = self.word_projection(words) * ops.expand_dims(word_mask, -1)
        scores = ops.cast(ops.einsum("bnc,btc->bnt", places, words), "float32") / math.sqrt(channels)
        # Padding gets no weight; a caption with no words has only zero words to read. In
        # float32 under mixed precision too: -1e9 is beyond float16's range.
        scores = scores + (ops.cast(ops.expand_dims(word_mask, 1), "float32") - 1.0) * 1e9
        weights = ops.softmax(scores, axis=-1)
        context = ops.einsum("bnt,btc->bnc", ops.cast(weights, words.dtype), words)
        context = ops.reshape(context, (-1, height, width, channels))
        joined = ops.concatenate([features, context], axis=-1)
        if self.return_weights:
            return joined, ops.reshape(weights, (-1, height, width, ops.shape(words)[1]))
        return joined

    def compute_output_shape(self, input_shape):
        features_shape, words_shape, _ = input_shape
        joined = (*features_shape[:-1], 2 * features_shape[-1])
        return (joined, (*features_shape[:-1], words_shape[1])) if self.return_weights else joined

    def get_config(self):
        return {**super().get_config(), "return_weights": self.return_weights}
