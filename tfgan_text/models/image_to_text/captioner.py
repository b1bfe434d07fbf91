"""CNN -> LSTM caption generator trained by maximum likelihood (Show and Tell, optionally with
spatial attention over the CNN's regions), as a Keras model."""

import copy

import keras
import tensorflow as tf
from keras import ops

from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.replicas import replica_position


@keras.saving.register_keras_serializable(package="tfgan_text")
class Captioner(keras.Model):
    """Image-to-caption generator: a CNN feature sets the initial state of an LSTM decoder.

    The image encoder's global feature `f` gives the decoder's initial state
    `h0 = tanh(W_h f)`, `c0 = tanh(W_c f)`; each step embeds the previous token, runs the LSTM
    cell and scores the next token with a linear layer (Vinyals et al. 2015; seed 001 feeds the
    image the same way, through the first state). `fit` trains it by teacher-forced maximum
    likelihood (`train_step`); `encode_images`, `initial_state` and `step` are what decoding
    (`tfgan_text.models.image_to_text.decoding`) and adversarial training (`seqgan`, `gumbel`) build on.

    With `attention_heads > 0` each step also attends over the image: the LSTM output `h_t`
    queries the global feature and every region of the CNN's last-but-one map, and the
    attended context `z_t` joins `h_t` in the token scores (spatial attention after the LSTM,
    Lu et al. 2017, "Knowing When to Look"; soft attention as Xu et al. 2015). The heads split
    the feature width E; keys and values are the features themselves (the CNN's own projections
    are learned with the captioner). A caption that relates two objects ("a cross above a
    star") needs to know which object is where, which one pooled vector keeps poorly.

    Token ids follow `tfgan_text.text.vocabulary`: 0 padding, 2 `<start>`, 3 `<end>`; a
    training caption is `<start> w1 ... wn <end>` padded with 0.

    Args:
        vocabulary_size: int V, number of token ids.
        max_length: int, ids per caption, `<start>` and `<end>` included: decoding stops after
            `max_length - 1` generated tokens.
        embedding_dim: int, width of the word embeddings.
        hidden_dim: int, width of the LSTM state.
        image_encoder: Keras model mapping images `[B, S, S, 3]` in [-1, 1] to a feature
            `[B, F]` or to a dict with a `"global"` entry; default a from-scratch
            `ImageEncoder(embedding_dim=hidden_dim, regions=False)`. A `keras.applications`
            backbone built with `include_top=False, pooling="avg", weights=YOUR_FILE` fits
            (e.g. MobileNetV2, which takes [-1, 1] inputs as given here).
        dropout: float, dropout on the LSTM output before the token scores (training only).
        attention_heads: int >= 0; 0 (default) reads the image only through the initial state.
            Otherwise the image encoder must give `{"global" [B, E], "regions" [B, h, w, E]}`
            (default `ImageEncoder(embedding_dim=hidden_dim, regions=True)`) with E divisible
            by `attention_heads`.
        **kwargs: passed to `keras.Model`.

    Training batches are dicts with `image` (float `[B, S, S, 3]` in [-1, 1]) and `token_ids`
    (int `[B, T]`, or `[B, K, T]` of which the first caption is used), as
    `tfgan_text.data.pipeline.training_pipeline` gives them.

    Example:
        captioner = Captioner(vocabulary_size=len(vocabulary), max_length=24)
        captioner.compile(optimizer=keras.optimizers.Adam(1e-3))
        captioner.fit(batches, epochs=5, steps_per_epoch=steps)
    """

    # What the model maps, for code that handles models of either direction (export, inference).
    task = "image_to_text"

    def __init__(
        self,
        vocabulary_size,
        max_length=32,
        embedding_dim=128,
        hidden_dim=256,
        image_encoder=None,
        dropout=0.0,
        attention_heads=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(attention_heads, bool) or not isinstance(attention_heads, int) or attention_heads < 0:
            raise UserError(f"attention_heads must be an integer >= 0, not {attention_heads!r}")
        self.vocabulary_size = vocabulary_size
        self.max_length = max_length
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_heads = attention_heads
        self.image_encoder = image_encoder or ImageEncoder(
            embedding_dim=hidden_dim, regions=bool(attention_heads), name="image_encoder"
        )
        self.initial_h = keras.layers.Dense(hidden_dim, activation="tanh", name="initial_h")
        self.initial_c = keras.layers.Dense(hidden_dim, activation="tanh", name="initial_c")
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")
        self.decoder = keras.layers.LSTM(hidden_dim, return_sequences=True, name="decoder")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.token_scores = keras.layers.Dense(vocabulary_size, name="token_scores")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="token_accuracy")

    @property
    def metrics(self):
        """Epoch means of the per-caption loss and of next-token accuracy (padding excluded)."""
        return [self.loss_tracker, self.accuracy_tracker]

    def build(self, input_shape):
        image_shape = tuple(input_shape["image"])
        self.image_shape = image_shape
        if not self.image_encoder.built:  # a deserialized encoder comes built
            self.image_encoder.build(image_shape)
        feature_dim = self._feature_dim(image_shape)
        if self.attention_heads and feature_dim % self.attention_heads:
            raise UserError(f"the image feature width {feature_dim} is not divisible by attention_heads="
                            f"{self.attention_heads}")
        self.initial_h.build((None, feature_dim))
        self.initial_c.build((None, feature_dim))
        self.embedding.build((None, None))
        self.decoder.build((None, None, self.embedding_dim))
        if self.attention_heads:  # h_t -> a query as wide as the features it is matched with
            self.attention_query = keras.layers.Dense(feature_dim, name="attention_query")
            self.attention_query.build((None, None, self.hidden_dim))
        self.token_scores.build((None, None, self.hidden_dim + (feature_dim if self.attention_heads else 0)))
        self.built = True

    def get_build_config(self):
        return {"image_shape": list(self.image_shape)}

    def build_from_config(self, config):
        self.build({"image": tuple(config["image_shape"])})

    def _feature_dim(self, image_shape):
        spec = self.image_encoder.compute_output_spec(keras.KerasTensor(image_shape))
        return (spec["global"] if isinstance(spec, dict) else spec).shape[-1]

    def encode_images(self, images, training=False):
        """What the decoder reads of each image: float `[B, F]`, the global feature, or with
        attention `[B, 1 + N, E]`, the global feature followed by the N regions (row-major)."""
        features = self.image_encoder(images, training=training)
        if not self.attention_heads:
            return features["global"] if isinstance(features, dict) else features
        regions = features["regions"]
        regions = ops.reshape(regions, (-1, regions.shape[1] * regions.shape[2], regions.shape[3]))
        return ops.concatenate([features["global"][:, None], regions], axis=1)

    def initial_state(self, features):
        """`[h, c]`, each float `[B, hidden_dim]`: the decoder state before `<start>`."""
        pooled = features[:, 0] if self.attention_heads else features
        return [self.initial_h(pooled), self.initial_c(pooled)]

    def step(self, token_ids, state, features, training=False):
        """One decoder step: `(logits float32 [B, V], new_state)` after reading `token_ids` (int
        `[B]`); `features` are `encode_images`' of the images (read only with attention): `[B, ...]`
        for B rows, or for several groups of B rows laid out group-major (see `_attend`)."""
        return self.step_embedded(self.embedding(token_ids), state, features, training=training)

    def step_embedded(self, embedded, state, features, training=False):
        """`step` from embedded tokens `[B, embedding_dim]` (e.g. a relaxed one-hot times the
        embedding matrix, as Gumbel-softmax training feeds back)."""
        output, state = self.decoder.cell(embedded, state, training=training)
        return self._token_logits(output[:, None], features, training)[:, 0], state

    def sequence_logits(self, features, input_ids, training=False):
        """float `[B, T, V]`: teacher-forced scores of the token after each of `input_ids` `[B, T]`."""
        embedded = self.embedding(input_ids)
        outputs = self.decoder(embedded, initial_state=self.initial_state(features), training=training)
        return self._token_logits(outputs, features, training)

    def _token_logits(self, outputs, features, training):
        """float32 scores `[B, T, V]` of LSTM outputs `[B, T, hidden_dim]`, with their attended
        context (float32 under mixed precision too: softmaxes over the vocabulary read them)."""
        if self.attention_heads:
            outputs = ops.concatenate([outputs, self._attend(outputs, features)], axis=-1)
        return ops.cast(self.token_scores(self.output_dropout(outputs, training=training)), "float32")

    def _attend(self, outputs, features):
        """float `[N, T, E]`: multi-head scaled dot-product attention of each output over its
        image's features, heads concatenated.

        `features` `[B, M, E]` may serve several groups of B rows: `outputs` `[N = G * B, T, H]`
        are group-major, row n reading image n mod B (as SeqGAN's rollout rows are laid out), so
        the features are never copied per row. With N = B (G = 1) row n reads image n.
        """
        heads = self.attention_heads
        width = features.shape[-1] // heads
        queries = self.attention_query(outputs)  # [G * B, T, E]
        rows, steps = ops.shape(queries)[0], ops.shape(queries)[1]
        batch = ops.shape(features)[0]
        groups = rows // ops.maximum(batch, 1)  # an empty batch has no groups
        # [G, B, T, heads, w] -> [B, heads, G * T, w]: each image's queries side by side
        queries = ops.transpose(ops.reshape(queries, (groups, batch, steps, heads, width)), (1, 3, 0, 2, 4))
        queries = ops.reshape(queries, (batch, heads, groups * steps, width))
        keys = ops.transpose(ops.reshape(ops.cast(features, outputs.dtype), (batch, -1, heads, width)), (0, 2, 1, 3))
        scores = ops.cast(ops.matmul(queries, ops.transpose(keys, (0, 1, 3, 2))), "float32") / float(width) ** 0.5
        weights = ops.cast(ops.softmax(scores, axis=-1), keys.dtype)  # a float32 softmax under mixed precision too
        context = ops.matmul(weights, keys)  # [B, heads, G * T, w]
        context = ops.transpose(ops.reshape(context, (batch, heads, groups, steps, width)), (2, 0, 3, 1, 4))
        return ops.reshape(context, (rows, steps, heads * width))

    def call(self, inputs, training=False):
        """`{"image", "token_ids"}` -> logits `[B, T-1, V]` of `token_ids[:, 1:]`."""
        features = self.encode_images(inputs["image"], training=training)
        return self.sequence_logits(features, inputs["token_ids"][:, :-1], training=training)

    def _loss_and_update(self, batch, training):
        token_ids = first_caption(batch["token_ids"])
        logits = self({"image": batch["image"], "token_ids": token_ids}, training=training)
        targets = token_ids[:, 1:]
        per_example = losses.caption_crossentropy(logits, targets)
        mask = losses.token_mask(targets)
        correct = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(targets, "int64")), "float32")
        return per_example, correct, mask

    def train_step(self, data):
        """One teacher-forced MLE step; the loss is averaged over the global batch (and scaled by
        the `LossScaleOptimizer` that `compile` wraps the optimizer in under `mixed_float16`)."""
        batch = data[0] if isinstance(data, (tuple, list)) else data
        _, global_size = replica_position(ops.shape(batch["image"])[0])
        with tf.GradientTape() as tape:
            per_example, correct, mask = self._loss_and_update(batch, training=True)
            loss = self.optimizer.scale_loss(tf.nn.compute_average_loss(per_example, global_batch_size=global_size))
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return self._track(per_example, correct, mask)

    def test_step(self, data):
        batch = data[0] if isinstance(data, (tuple, list)) else data
        return self._track(*self._loss_and_update(batch, training=False))

    def _track(self, per_example, correct, mask):
        self.loss_tracker.update_state(per_example)
        self.accuracy_tracker.update_state(correct, sample_weight=mask)
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "max_length": self.max_length,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
                "dropout": self.dropout,
                "attention_heads": self.attention_heads,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["image_encoder"] = keras.saving.deserialize_keras_object(config["image_encoder"])
        return cls(**config)


def first_caption(token_ids):
    """`[B, T]` ids: the first caption of each image when several are given (`[B, K, T]`)."""
    token_ids = ops.convert_to_tensor(token_ids)
    return token_ids[:, 0] if len(token_ids.shape) == 3 else token_ids

