"""The `tf.data` training pipeline: augment, normalise, batch, and pair each image with a
matching and a mismatching caption for the GAN-CLS discriminator (Reed et al. 2016, sec. 4.1).
"""

import tensorflow as tf

from tfgan_text.errors import UserError

# Reed et al. load 64x64 images at 76x76 and crop at random.
CROP_MARGIN = 76 / 64


def training_pipeline(
    dataset,
    batch_size,
    tokenizer=None,
    captions_per_image=1,
    shuffle_buffer=10_000,
    random_crop=False,
    flip=False,
    cache=True,
    seed=0,
    epochs=None,
    start_epoch=0,
    start_batch=0,
    counterfactual_words=None,
    counterfactual_rate=0.5,
):
    """Turns a dataset of `tfgan_text.data.load` into a stream of training batches.

    The stream is a sequence of epochs. Epoch k shuffles the images and samples
    `captions_per_image` of each image's captions (without replacement where it has enough),
    so that a model sees every caption over the epochs. For every image the batch also
    carries a caption of another image in the batch whose content differs (other
    `attributes` for shapes, other `label` where there are classes, otherwise simply another
    image): the "wrong text" of GAN-CLS. All randomness is a function of (`seed`, epoch,
    position in the epoch), so a run resumed at `start_epoch`/`start_batch` sees exactly
    the batches the interrupted run would have seen.

    Batches never straddle two epochs (the last incomplete batch of an epoch is dropped), so
    an epoch has `steps_per_epoch(dataset, batch_size)` batches: pass that to `model.fit`.

    Args:
        dataset: `tf.data.Dataset` of `{"image": uint8 [S, S, 3], "captions": string [N], ...}`.
        batch_size: int > 0, the global batch size.
        tokenizer: optional `tfgan_text.text.tokenizer.Tokenizer`; when given the batches also
            carry `token_ids` and `wrong_token_ids`.
        captions_per_image: int K > 0; K > 1 gives `caption` `[B, K]` (Reed's condition averaged
            over several captions of the image).
        shuffle_buffer: int, shuffle window in images (a dataset no larger than the window is
            fully permuted each epoch); 0 disables shuffling.
        random_crop: bool, upscale by 76/64 and crop back at random (Reed's augmentation).
        flip: bool, random horizontal flips. Leave off when captions name left and right, as
            the shapes captions do: a flipped image would contradict them.
        cache: bool or str, cache the decoded images in memory (True) or in a file (a path).
        seed: int, seed of the shuffling, caption sampling, augmentation and wrong captions.
        epochs: int, the epoch at which the stream ends; None for an endless stream.
        start_epoch: int, the first epoch of the stream.
        start_batch: int, batches of `start_epoch` to skip (to resume an interrupted run).
        counterfactual_words: optional sequence of token ids of interchangeable words (e.g. the
            shape words of the shapes dataset); needs a `tokenizer` with `detokenize`. Then a
            share `counterfactual_rate` of the wrong captions is instead the image's own caption
            with one of these words swapped for another (`swap_one_word`): a caption that
            differs from the true one only there, which a GAN-CLS discriminator can reject only
            by looking at that attribute (another image's caption differs in everything).
            `wrong_caption` is then the detokenized ids.
        counterfactual_rate: float in [0, 1], see `counterfactual_words`.

    Returns:
        `tf.data.Dataset` of dicts: `image` float32 `[B, S, S, 3]` in [-1, 1], `caption`
        string `[B]` (or `[B, K]`), `wrong_caption` string `[B]`, optional `token_ids`
        int64 `[B, T]` (or `[B, K, T]`) and `wrong_token_ids` `[B, T]`, `content_key` int64
        `[B]` (equal keys: same content, e.g. for a matching loss that must not count such
        pairs as negatives), and `label` / `attributes` when the source has them.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise UserError(f"batch size must be a positive integer, got {batch_size!r}")
    if not isinstance(captions_per_image, int) or captions_per_image <= 0:
        raise UserError(f"captions per image must be a positive integer, got {captions_per_image!r}")
    if start_batch < 0 or start_batch >= max(steps_per_epoch(dataset, batch_size), 1):
        raise UserError(f"start batch {start_batch} is outside an epoch of {steps_per_epoch(dataset, batch_size)} batches")
    if counterfactual_words is not None:
        counterfactual_words = [int(i) for i in counterfactual_words]
        if not hasattr(tokenizer, "detokenize"):
            raise UserError("counterfactual wrong captions need a word tokenizer (with detokenize)")
        if len(set(counterfactual_words)) < 2 or len(set(counterfactual_words)) != len(counterfactual_words):
            raise UserError(f"counterfactual words must be two or more distinct ids, got {counterfactual_words}")
        if not 0.0 <= counterfactual_rate <= 1.0:
            raise UserError(f"counterfactual rate must be in [0, 1], got {counterfactual_rate}")

    examples = dataset.enumerate().map(with_content_key)
    if cache:
        examples = examples.cache("" if cache is True else str(cache))
    prepare = _example_preparer(captions_per_image, random_crop, flip, counterfactual_words is not None)
    root_key = tf.constant([seed, 0], tf.int64)

    def one_epoch(epoch):
        epoch_key = tf.random.experimental.stateless_fold_in(root_key, epoch)
        shuffled = _shuffle_in_windows(examples, shuffle_buffer, epoch_key) if shuffle_buffer else examples
        skipped = tf.where(epoch == start_epoch, tf.cast(start_batch * batch_size, tf.int64), tf.constant(0, tf.int64))
        positioned = shuffled.enumerate().skip(skipped)
        batches = positioned.map(
            lambda position, example: prepare(example, tf.random.experimental.stateless_fold_in(epoch_key, position)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return batches.batch(batch_size, drop_remainder=True)

    last_epoch = tf.int64.max if epochs is None else epochs
    stream = tf.data.Dataset.range(start_epoch, last_epoch).flat_map(one_epoch)
    stream = stream.map(_with_wrong_caption, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if tokenizer is not None:
        stream = stream.map(
            lambda batch: _with_token_ids(batch, tokenizer, counterfactual_words, counterfactual_rate),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    # Under a multi-worker strategy each worker builds every global batch (the wrong captions
    # come from the whole batch) and keeps its replicas' rows of it: sharding by data, so no
    # two workers see the same example. The readers load images into memory: there are no
    # files to shard by.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return stream.prefetch(tf.data.AUTOTUNE).with_options(options)


def resume_position(dataset, batch_size, step):
    """`{"start_epoch": ..., "start_batch": ...}` of `training_pipeline` for the stream that goes
    on after `step` batches: epochs of the data, which a `fit` with fewer `steps_per_epoch`
    does not end."""
    start_epoch, start_batch = divmod(step, steps_per_epoch(dataset, batch_size))
    return {"start_epoch": start_epoch, "start_batch": start_batch}


def steps_per_epoch(dataset, batch_size):
    """Batches in one epoch of `training_pipeline` over `dataset` (whose size must be known)."""
    count = int(dataset.cardinality())
    if count < 0:
        raise UserError("the dataset's size is unknown: pass a dataset of known cardinality")
    return count // batch_size


def _shuffle_in_windows(examples, window, key):
    """Permutes each run of `window` consecutive examples by a permutation drawn from `key`.

    A stateless stand-in for `Dataset.shuffle`, whose seed cannot be a per-epoch tensor.
    """

    def permute(window_index, batch):
        size = tf.shape(batch["content_key"])[0]
        window_key = tf.random.experimental.stateless_fold_in(key, window_index)
        order = tf.argsort(tf.random.stateless_uniform([size], window_key))
        return tf.nest.map_structure(lambda values: tf.gather(values, order), batch)

    return examples.ragged_batch(window).enumerate().map(permute).unbatch()


def with_content_key(index, example):
    """Adds `content_key`: equal keys mean "same content", so one's caption is not wrong text."""
    example = dict(example)
    if "attributes" in example:
        parts = [tf.cast(example["attributes"][name], tf.int64) + 1 for name in sorted(example["attributes"])]
        key = tf.zeros([], tf.int64)
        for part in parts:
            for value in tf.unstack(part, num=2):
                key = key * 64 + value
    elif "label" in example:
        key = tf.cast(example["label"], tf.int64)
    else:
        key = index
    example["content_key"] = key
    return example


def _example_preparer(captions_per_image, random_crop, flip, counterfactual=False):
    def prepare(example, key):
        seeds = tf.random.experimental.stateless_split(key, num=4)
        example = dict(example)
        example["image"] = _augment(example["image"], random_crop, flip, seeds[0], seeds[1])
        example["caption"] = _sample_captions(example.pop("captions"), captions_per_image, seeds[2])
        example["wrong_draw"] = tf.random.stateless_uniform([], seeds[3])
        if counterfactual:
            # A seed of its own, so that every other draw is as without counterfactuals.
            swap_seed = tf.random.experimental.stateless_fold_in(seeds[3], 1)
            example["swap_draw"] = tf.random.stateless_uniform([3], swap_seed)
        return example

    return prepare


def _augment(image, random_crop, flip, crop_seed, flip_seed):
    image = tf.cast(image, tf.float32)
    if random_crop:
        size = tf.shape(image)[0]
        large = tf.cast(tf.math.ceil(tf.cast(size, tf.float32) * CROP_MARGIN), tf.int32)
        image = tf.image.resize(image, [large, large], antialias=True)
        image = tf.image.stateless_random_crop(image, tf.stack([size, size, 3]), crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    return image / 127.5 - 1.0


def _sample_captions(captions, count, seed):
    """`count` captions of one image: a random subset, with repeats only if it has fewer."""
    available = tf.shape(captions)[0]
    tf.debugging.assert_positive(available, message="an image has no captions")
    order = tf.argsort(tf.random.stateless_uniform([available], seed))
    repeats = (count + available - 1) // available
    picks = tf.tile(order, [repeats])[:count]
    chosen = tf.gather(captions, picks)
    return chosen[0] if count == 1 else chosen


def _with_wrong_caption(batch):
    """For each image i, the caption of another image j of the batch with other content.

    j is drawn uniformly among the images of the batch whose content key differs; if every
    image of the batch has the same content, j = i + 1 (mod B).
    """
    keys = batch["content_key"]
    draw = batch.pop("wrong_draw")
    size = tf.shape(keys)[0]
    other = tf.not_equal(keys[:, None], keys[None, :])
    counts = tf.reduce_sum(tf.cast(other, tf.int32), axis=1)
    rank = tf.minimum(tf.cast(draw * tf.cast(counts, tf.float32), tf.int32), counts - 1)
    # The index of the rank-th True in each row of `other`.
    running = tf.cumsum(tf.cast(other, tf.int32), axis=1) - 1
    hit = tf.logical_and(other, tf.equal(running, rank[:, None]))
    chosen = tf.argmax(tf.cast(hit, tf.int32), axis=1, output_type=tf.int32)
    fallback = (tf.range(size) + 1) % size
    wrong_index = tf.where(counts > 0, chosen, fallback)
    captions = batch["caption"]
    first_captions = captions if captions.shape.rank == 1 else captions[:, 0]
    batch["wrong_caption"] = tf.gather(first_captions, wrong_index)
    return batch


def _with_token_ids(batch, tokenizer, counterfactual_words=None, counterfactual_rate=0.5):
    batch = dict(batch)
    captions = batch["caption"]
    flat_ids = tokenizer(tf.reshape(captions, [-1]))
    length = tf.shape(flat_ids)[-1]
    batch["token_ids"] = tf.reshape(flat_ids, tf.concat([tf.shape(captions), [length]], axis=0))
    batch["wrong_token_ids"] = tokenizer(batch["wrong_caption"])
    if counterfactual_words is not None:
        draw = batch.pop("swap_draw")
        own = batch["token_ids"] if captions.shape.rank == 1 else batch["token_ids"][:, 0]
        swapped, changed = swap_one_word(own, counterfactual_words, draw[:, :2])
        use = tf.logical_and(changed, draw[:, 2] < counterfactual_rate)
        batch["wrong_token_ids"] = tf.where(use[:, None], swapped, batch["wrong_token_ids"])
        batch["wrong_caption"] = tf.where(use, tokenizer.detokenize(swapped), batch["wrong_caption"])
    return batch


def swap_one_word(token_ids, word_ids, uniform):
    """Counterfactual captions: one word of a group swapped for another word of that group.

    In each row, one of the tokens that belong to `word_ids` (the k-th of them, k drawn by
    `uniform[:, 0]`) is replaced by the word `d` places further along `word_ids` (cyclically),
    `d` in 1 .. W-1 drawn by `uniform[:, 1]`: "a red circle left of a blue star" becomes, say,
    "a red heart left of a blue star", a caption of the same form that is false of the image.

    Args:
        token_ids: int tensor `[B, T]`.
        word_ids: sequence of W >= 2 distinct ids, the interchangeable words (e.g. the 8 shape
            words of the shapes dataset).
        uniform: float tensor `[B, 2]` in [0, 1).

    Returns:
        `(swapped, changed)`: the ids `[B, T]` and a bool `[B]`, False where the row holds none
        of the words (it is returned unchanged).

    Example:
        >>> swap_one_word([[5, 7, 0]], [7, 8, 9], [[0.0, 0.0]])  # ([[5, 8, 0]], [True])
    """
    ids = tf.convert_to_tensor(token_ids)
    words = tf.constant(list(word_ids), ids.dtype)
    uniform = tf.cast(tf.convert_to_tensor(uniform), tf.float32)
    hits = tf.equal(ids[..., None], words)  # [B, T, W]
    is_word = tf.reduce_any(hits, axis=-1)
    count = tf.reduce_sum(tf.cast(is_word, tf.int32), axis=1)
    rank = tf.minimum(tf.cast(uniform[:, 0] * tf.cast(count, tf.float32), tf.int32), count - 1)
    running = tf.cumsum(tf.cast(is_word, tf.int32), axis=1) - 1
    chosen = tf.logical_and(is_word, tf.equal(running, rank[:, None]))
    size = len(word_ids)
    offset = 1 + tf.minimum(tf.cast(uniform[:, 1] * (size - 1), tf.int32), size - 2)
    index = tf.argmax(tf.cast(hits, tf.int32), axis=-1, output_type=tf.int32)  # [B, T]
    replacement = tf.gather(words, (index + offset[:, None]) % size)
    return tf.where(chosen, replacement, ids), count > 0
