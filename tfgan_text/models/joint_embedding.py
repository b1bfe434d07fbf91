"""Joint image-text embedding: trains a text encoder and an image encoder into one space."""

import keras
import tensorflow as tf
from keras import ops

from tfgan_text.data.pipeline import swap_one_word
from tfgan_text.errors import UserError
from tfgan_text.losses import damsm_word_loss, hard_negative_matching_loss, symmetric_matching_loss


def in_batch_recall_at_1(image_embeddings, text_embeddings, labels=None):
    """Fraction of texts whose own image scores strictly above every negative image of the batch.

    Negatives are the other images, less those with the same label when `labels` is given
    (as in `symmetric_matching_loss`); a tie counts as a miss.

    Args:
        image_embeddings: float tensor `[B, E]`.
        text_embeddings: float tensor `[B, E]`.
        labels: optional tensor `[B]`, content keys.

    Returns:
        float32 scalar.
    """
    image = ops.cast(image_embeddings, "float32")
    text = ops.cast(text_embeddings, "float32")
    scores = ops.matmul(
        text / ops.maximum(ops.norm(text, axis=-1, keepdims=True), 1e-12),
        ops.transpose(image / ops.maximum(ops.norm(image, axis=-1, keepdims=True), 1e-12)),
    )
    batch_size = ops.shape(scores)[0]
    negative = ops.logical_not(ops.eye(batch_size, dtype="bool"))
    if labels is not None:
        labels = ops.convert_to_tensor(labels)
        negative = ops.logical_and(negative, ops.not_equal(labels[:, None], labels[None, :]))
    best_negative = ops.max(ops.where(negative, scores, -2.0), axis=1)
    return ops.mean(ops.cast(ops.diagonal(scores) > best_negative, "float32"))


def counterfactual_features(encode, token_ids, swap_groups, seed_generator):
    """Text features of counterfactual captions, the hard negatives of the matching losses.

    Each caption gives one counterfactual per group of `swap_groups` (`swap_one_word`: one word
    of the group swapped for another of it, drawn with `seed_generator`).

    Args:
        encode: callable, token ids `[N, T]` -> a dict of features with N rows (e.g. the
            sentence embeddings `[N, E]`, word features `[N, T', D]`, word mask `[N, T']`).
        token_ids: int tensor `[B, T]`.
        swap_groups: list of K lists of token ids.
        seed_generator: `keras.random.SeedGenerator` of the swaps.

    Returns:
        `(features, changed bool [B, K])`: each feature `[B, K, ...]` (image i's negatives in
        row i); `changed` is False where a caption holds no word of the group (its
        "counterfactual" is itself, no negative).
    """
    swapped, changed = [], []
    for group in swap_groups:
        uniform = keras.random.uniform(ops.stack([ops.shape(token_ids)[0], 2]), seed=seed_generator)
        group_ids, group_changed = swap_one_word(token_ids, group, uniform)
        swapped.append(group_ids)
        changed.append(group_changed)
    batch = ops.shape(token_ids)[0]
    features = {
        name: ops.moveaxis(ops.reshape(value, (len(swap_groups), batch, *ops.shape(value)[1:])), 0, 1)
        for name, value in encode(ops.concatenate(swapped, axis=0)).items()
    }
    return features, ops.stack(changed, axis=1)


@keras.saving.register_keras_serializable(package="tfgan_text")
class JointEmbedding(keras.Model):
    """Trains a text encoder and an image encoder jointly with a symmetric matching loss.

    The DAMSM sentence loss (Xu et al. 2018) and the joint embedding of Reed et al. 2016:
    `symmetric_matching_loss` over the batch's cosine-similarity matrix, scaled by `gamma`.
    Batches are dicts with `"image"` float `[B, S, S, 3]` in [-1, 1], the text encoder's ids
    under its `input_key` (`"token_ids"` or `"char_ids"`, `[B, T]`), and optionally an entry
    `[B]` named by `match_key`: pairs of the batch with equal values there (the same class, or
    the same content) are not taken as negatives of each other.
    `fit` and `evaluate` report `loss` and `recall_at_1` (caption -> image, within the batch).
    Under a `tf.distribute` strategy the negatives are those of each replica's batch.

    With `swap_groups`, each caption also gives one counterfactual per group (`swap_one_word`:
    one word of the group swapped for another, e.g. "circle" for "star"), a hard negative in its
    image's softmax over texts (`hard_negative_matching_loss`). Captions that differ only in a
    shape word then have to be told apart, which the batch's other captions (differing in
    every attribute at once) hardly ever demand.

    With `word_weight` > 0 the loss also holds DAMSM's word loss (`damsm_word_loss`): each
    word of a caption has to find a matching region of its image, so a caption of two objects
    only matches an image showing both.

    Args:
        text_encoder: `WordRNNEncoder` or `CharCNNRNNEncoder` (any model with an `input_key`
            returning `{"sentence": [B, E], ...}`).
        image_encoder: `ImageEncoder` (any model returning `{"global": [B, E], ...}`).
        gamma: float, the scale of the cosine similarities (AttnGAN's gamma3: 10).
        match_key: str, the batch entry of content keys, used where present (AttnGAN masks
            pairs of the same class: `"label"`).
        swap_groups: optional list of lists of token ids (word encoders only), one hard
            negative per caption for each list; repeat a list for several.
        seed: optional int, seed of the swaps.
        word_weight: float >= 0, weight of DAMSM's word loss beside the sentence loss (AttnGAN
            weighs them equally: 1); needs an image encoder with regions, of the text
            encoder's word width, and a text encoder giving `words` and `mask`. 0: off.
        word_negatives: bool, the counterfactual captions of `swap_groups` are hard negatives
            of the word loss too: the swapped word must not find itself in the image.
        gamma1: float, the word loss's sharpness of attention over regions (AttnGAN: 4).
        gamma2: float, how much the word loss's caption score favours its best-matched words
            (AttnGAN: 5).
        **kwargs: passed to `keras.Model`.

    Example:
        >>> model = JointEmbedding(WordRNNEncoder(vocabulary_size=50), ImageEncoder())
        >>> model.compile(optimizer=keras.optimizers.Adam(2e-4))
        >>> model.fit(batches, epochs=5)
    """

    def __init__(self, text_encoder, image_encoder, gamma=10.0, match_key="label", swap_groups=None, seed=None,
                 word_weight=0.0, word_negatives=False, gamma1=4.0, gamma2=5.0, **kwargs):
        super().__init__(**kwargs)
        if not word_weight >= 0.0:
            raise UserError(f"word_weight must be >= 0, got {word_weight!r}")
        if word_weight and not getattr(image_encoder, "regions", False):
            raise UserError("word_weight > 0 needs an image encoder with region features (regions=True)")
        if word_negatives and not (word_weight and swap_groups):
            raise UserError("word_negatives needs word_weight > 0 and swap_groups")
        swap_groups = [[int(i) for i in group] for group in swap_groups or []]
        if swap_groups and text_encoder.input_key != "token_ids":
            raise UserError("swap_groups needs a word-level text encoder (input token_ids)")
        for group in swap_groups:
            if len(set(group)) != len(group) or len(group) < 2:
                raise UserError(f"a swap group needs two or more distinct token ids, got {group}")
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.gamma = gamma
        self.match_key = match_key
        self.swap_groups = swap_groups
        self.seed = seed
        self.word_weight = float(word_weight)
        self.word_negatives = bool(word_negatives)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.seed_generator = keras.random.SeedGenerator(seed) if swap_groups else None
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.recall_tracker = keras.metrics.Mean(name="recall_at_1")

    @property
    def metrics(self):
        return [self.loss_tracker, self.recall_tracker]

    def call(self, inputs, training=False):
        """Returns `{"image": [B, E], "text": [B, E]}`, the global image and sentence embeddings;
        with the word loss on, also the image's `"regions"` and the caption's `"words"` and
        `"mask"`."""
        image = self.image_encoder(inputs["image"], training=training)
        text = self.text_encoder(inputs[self.text_encoder.input_key], training=training)
        embeddings = {"image": image["global"], "text": text["sentence"]}
        if self.word_weight:
            embeddings.update(regions=image["regions"], words=text["words"], mask=text["mask"])
        return embeddings

    def _loss(self, data, embeddings, labels, training):
        """Per-example matching loss, with the counterfactual hard negatives and the word loss
        when configured."""
        if not self.swap_groups:
            loss = symmetric_matching_loss(embeddings["image"], embeddings["text"], self.gamma, labels)
            negatives = {}
        else:
            negatives, changed = counterfactual_features(
                lambda ids: self.text_encoder(ids, training=training), data["token_ids"], self.swap_groups,
                self.seed_generator,
            )
            loss = hard_negative_matching_loss(embeddings["image"], embeddings["text"], negatives["sentence"], self.gamma,
                                               labels, changed)
            if self.word_negatives:
                negatives = {"negative_words": negatives["words"], "negative_word_mask": negatives["mask"],
                             "negative_mask": changed}
            else:
                negatives = {}
        if self.word_weight:
            words = damsm_word_loss(embeddings["regions"], embeddings["words"], embeddings["mask"], gamma1=self.gamma1,
                                    gamma2=self.gamma2, gamma3=self.gamma, labels=labels, **negatives)
            loss = loss + self.word_weight * words
        return loss

    def _update_metrics(self, loss, embeddings, labels):
        self.loss_tracker.update_state(loss)
        self.recall_tracker.update_state(in_batch_recall_at_1(embeddings["image"], embeddings["text"], labels))
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        labels = data.get(self.match_key)
        with tf.GradientTape() as tape:
            embeddings = self(data, training=True)
            per_example = self._loss(data, embeddings, labels, training=True)
            loss = self.optimizer.scale_loss(tf.nn.compute_average_loss(per_example))
        gradients = tape.gradient(loss, self.trainable_variables)
        # Without the word loss, region features take no part in the loss: their gradient is
        # zero rather than missing, which Keras would warn about at every step.
        gradients = [ops.zeros_like(v) if g is None else g for g, v in zip(gradients, self.trainable_variables)]
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(ops.mean(per_example), embeddings, labels)

    def test_step(self, data):
        labels = data.get(self.match_key)
        embeddings = self(data, training=False)
        per_example = self._loss(data, embeddings, labels, training=False)
        return self._update_metrics(ops.mean(per_example), embeddings, labels)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
                "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
                "gamma": self.gamma,
                "match_key": self.match_key,
                "swap_groups": self.swap_groups,
                "seed": self.seed,
                "word_weight": self.word_weight,
                "word_negatives": self.word_negatives,
                "gamma1": self.gamma1,
                "gamma2": self.gamma2,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["text_encoder"] = keras.saving.deserialize_keras_object(config["text_encoder"])
        config["image_encoder"] = keras.saving.deserialize_keras_object(config["image_encoder"])
        return cls(**config)
