"""GAN losses as plain functions of tensors (TF-GAN's `losses_impl` is the model).

Every function takes discriminator logits (not probabilities) of shape `[B]`, `[B, 1]` or
`[B, ...]` (a patch discriminator) and returns the *per-example* loss, a float32 tensor of
shape `[B]` (the mean over any non-batch axes), whatever the dtype of its inputs: the bfloat16
or float16 logits of a mixed-precision model are cast to float32 first. Average it over the
batch yourself: `keras.ops.mean(loss)` on one device, or `tf.nn.compute_average_loss(loss,
global_batch_size=...)` inside a `tf.distribute` replica context, as
`TextConditionalDCGAN.train_step` does.

References:
- GAN-CLS: Reed et al. 2016, "Generative Adversarial Text to Image Synthesis", Algorithm 1.
- Non-saturating generator loss: Goodfellow et al. 2014, section 3.
- Hinge loss: Lim & Ye 2017 "Geometric GAN"; Miyato et al. 2018 (SN-GAN).
- One-sided label smoothing: Salimans et al. 2016, "Improved Techniques for Training GANs".
- Paired L1 reconstruction: Isola et al. 2017, "Image-to-Image Translation with Conditional
  Adversarial Networks" (pix2pix), eq. 3.
"""

from keras import ops

from tfgan_text.errors import UserError


def _float32(values):
    return ops.cast(values, "float32")


def _per_example(values):
    """Mean over every axis but the first, in float32: `[B, ...]` -> `[B]`."""
    values = _float32(values)
    if len(values.shape) == 1:
        return values
    return ops.mean(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1)


def _check_label_smoothing(label_smoothing):
    if not 0.0 <= label_smoothing < 1.0:
        raise UserError(f"label_smoothing must be in [0, 1), got {label_smoothing}")


def sigmoid_cross_entropy(logits, target):
    """Per-example binary cross-entropy of `logits` against a constant `target` in [0, 1]."""
    logits = _float32(logits)
    targets = ops.full_like(logits, target)
    return _per_example(ops.binary_crossentropy(targets, logits, from_logits=True))


def gan_cls_discriminator_loss(
    real_logits,
    wrong_logits,
    fake_logits,
    label_smoothing=0.0,
    wrong_weight=0.5,
    fake_weight=0.5,
):
    """GAN-CLS discriminator loss of Reed et al. 2016 (Algorithm 1, line 8), per example.

    `L_D = BCE(D(x, h), 1 - s) + 0.5 * BCE(D(x, h_wrong), 0) + 0.5 * BCE(D(G(z, h), h), 0)`:
    real image with its own text is real; real image with another image's text and generated
    image with the right text are both fake.

    Args:
        real_logits: float tensor `[B, ...]`, D on (real image, right text).
        wrong_logits: float tensor `[B, ...]`, D on (real image, wrong text).
        fake_logits: float tensor `[B, ...]`, D on (generated image, right text).
        label_smoothing: float in [0, 1): one-sided smoothing `s`, the real target is `1 - s`
            (Salimans et al. 2016); fake targets stay 0.
        wrong_weight: float, weight of the wrong-text term (0.5 in the paper).
        fake_weight: float, weight of the fake-image term (0.5 in the paper).

    Returns:
        float tensor `[B]`.
    """
    _check_label_smoothing(label_smoothing)
    return (
        sigmoid_cross_entropy(real_logits, 1.0 - label_smoothing)
        + wrong_weight * sigmoid_cross_entropy(wrong_logits, 0.0)
        + fake_weight * sigmoid_cross_entropy(fake_logits, 0.0)
    )


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss `-log D(G(z, h), h)` = `BCE(fake, 1)`, per example.

    Args:
        fake_logits: float tensor `[B, ...]`, D on (generated image, its text).

    Returns:
        float tensor `[B]`.
    """
    return sigmoid_cross_entropy(fake_logits, 1.0)


def hinge_discriminator_loss(real_logits, wrong_logits, fake_logits, wrong_weight=0.5, fake_weight=0.5):
    """Hinge variant of the GAN-CLS discriminator loss, per example.

    `L_D = relu(1 - D(x, h)) + 0.5 * relu(1 + D(x, h_wrong)) + 0.5 * relu(1 + D(G(z, h), h))`.

    Args:
        real_logits, wrong_logits, fake_logits: float tensors `[B, ...]`, as in
            `gan_cls_discriminator_loss`.
        wrong_weight: float, weight of the wrong-text term.
        fake_weight: float, weight of the fake-image term.

    Returns:
        float tensor `[B]`.
    """
    return (
        _per_example(ops.relu(1.0 - _float32(real_logits)))
        + wrong_weight * _per_example(ops.relu(1.0 + _float32(wrong_logits)))
        + fake_weight * _per_example(ops.relu(1.0 + _float32(fake_logits)))
    )


def hinge_generator_loss(fake_logits):
    """Hinge generator loss `-D(G(z, h), h)`, per example.

    Args:
        fake_logits: float tensor `[B, ...]`.

    Returns:
        float tensor `[B]`.
    """
    return _per_example(-_float32(fake_logits))


def paired_l1_loss(generated, target):
    """Per-example mean absolute difference of generated images and their paired real images.

    pix2pix's L1 term (Isola et al. 2017, eq. 3; lambda 100 on [-1, 1] images): it pulls each
    generated image towards the real image of its caption, a direct, dense signal for every
    attribute the caption fixes (colour, place, size). Its optimum is the median image of the
    caption, so it also pulls G towards ignoring the noise; the GAN loss keeps images sharp.

    Args:
        generated: float tensor `[B, H, W, C]`.
        target: float tensor `[B, H, W, C]`.

    Returns:
        float32 tensor `[B]`.
    """
    difference = ops.cast(generated, "float32") - ops.cast(target, "float32")
    return _per_example(ops.abs(difference))


def symmetric_matching_loss(image_embeddings, text_embeddings, gamma=10.0, labels=None):
    """Symmetric image-text matching loss over a batch, per example: DAMSM's sentence loss.

    Scores are `gamma` times the cosine similarity of every text with every image of the batch;
    pair i is the match of text i and image i. The loss of example i is the cross-entropy of
    picking image i among the batch's images for text i, plus that of picking text i among the
    batch's texts for image i: `L1s + L2s` of AttnGAN (Xu et al. 2018, eqs. 10-13, gamma3 = 10),
    a softmax form of the symmetric joint-embedding loss of Reed et al. 2016 (DS-SJE).

    Args:
        image_embeddings: float tensor `[B, E]`.
        text_embeddings: float tensor `[B, E]`; a zero row (an empty caption) is allowed.
        gamma: float, the inverse temperature of the softmax.
        labels: optional tensor `[B]` (any dtype with equality), a key of each pair's content
            (a class id, or a key of the attributes): another pair with the same key is not a
            negative, so it is left out of both softmaxes (AttnGAN does this with class ids).

    Returns:
        float32 tensor `[B]`.
    """
    logits = _batch_scores(_unit_rows(image_embeddings), _unit_rows(text_embeddings), gamma, labels)
    return _symmetric_crossentropy(logits)


def damsm_word_loss(regions, words, word_mask, gamma1=4.0, gamma2=5.0, gamma3=10.0, labels=None,
                    negative_words=None, negative_word_mask=None, negative_mask=None):
    """DAMSM's word loss over a batch, per example (AttnGAN, Xu et al. 2018, eqs. 7-13).

    Each word of caption i attends to the regions of image j: `s = e^T v` normalised over the
    caption's words (eq. 8), then a softmax over regions with `gamma1` (eq. 9) gives the
    word's region-context `c`. Caption i and image j score
    `R = log(sum_words exp(gamma2 * cos(c, e))) / gamma2` (eqs. 10-11), a soft maximum over the
    words of how well each word finds itself in the image: every word named has to be there,
    which the sentence loss (one pooled vector per image) asks only on average. The loss is the
    symmetric cross-entropy of `gamma3 * R` over the batch, as `symmetric_matching_loss`; hard
    negative captions of each image, when given, join its softmax over texts, as in
    `hard_negative_matching_loss`.

    Args:
        regions: float tensor `[B, H, W, D]` or `[B, R, D]`, the image encoder's region features.
        words: float tensor `[B, T, D]`, the text encoder's word features.
        word_mask: tensor `[B, T]`, true (or 1) on words, false on padding. A caption without
            words scores 0 with every image.
        gamma1, gamma2, gamma3: floats, AttnGAN's 4, 5 and 10.
        labels: optional tensor `[B]`, content keys (see `symmetric_matching_loss`).
        negative_words: optional float tensor `[B, K, T', D]`, the word features of image i's
            K hard negative captions in row i.
        negative_word_mask: tensor `[B, K, T']`, their words (needed with `negative_words`).
        negative_mask: optional bool tensor `[B, K]`; False leaves that negative out.

    Returns:
        float32 tensor `[B]`.
    """
    regions = ops.cast(regions, "float32")
    regions = ops.reshape(regions, (ops.shape(regions)[0], -1, ops.shape(regions)[-1]))  # [B, R, D]
    # Caption i (rows) against image j (columns).
    match = _word_match(words[:, None], word_mask[:, None], regions[None], gamma1, gamma2)
    logits = _masked_same_content(gamma3 * match, labels)
    if negative_words is None:
        return _symmetric_crossentropy(logits)
    negative_logits = gamma3 * _word_match(negative_words, negative_word_mask, regions[:, None], gamma1, gamma2)
    if negative_mask is not None:
        negative_logits = ops.where(ops.convert_to_tensor(negative_mask), negative_logits, -1e9)
    return _symmetric_crossentropy(logits, negative_logits)


def damsm_loss(image_features, text_features, gamma1=4.0, gamma2=5.0, gamma3=10.0, labels=None):
    """DAMSM's loss, per example: the sentence loss plus the word loss, each symmetric
    (AttnGAN, Xu et al. 2018, eq. 14 without lambda: `L1w + L2w + L1s + L2s`).

    Args:
        image_features: `{"regions": [B, H, W, D], "global": [B, D]}` of the image encoder.
        text_features: `{"words": [B, T, D], "sentence": [B, D], "mask": [B, T]}` of the text encoder.
        gamma1, gamma2, gamma3: floats, AttnGAN's 4, 5 and 10.
        labels: optional tensor `[B]`, content keys (see `symmetric_matching_loss`).

    Returns:
        float32 tensor `[B]`.
    """
    sentence = symmetric_matching_loss(image_features["global"], text_features["sentence"], gamma3, labels)
    words = damsm_word_loss(image_features["regions"], text_features["words"], text_features["mask"], gamma1, gamma2,
                            gamma3, labels)
    return sentence + words


def attngan_discriminator_loss(unconditional_real, conditional_real, unconditional_fake, conditional_fake,
                               conditional_wrong):
    """One AttnGAN stage discriminator's loss from its logits, per example (Xu et al. 2018,
    eq. 4 and their code): `(BCE(u_real, 1) + BCE(c_real, 1)) / 2 + (BCE(u_fake, 0) +
    BCE(c_fake, 0) + BCE(c_wrong, 0)) / 3`, where `c_wrong` judges a real image with another
    image's caption.

    Returns:
        float32 tensor `[B]`.
    """
    real = sigmoid_cross_entropy(unconditional_real, 1.0) + sigmoid_cross_entropy(conditional_real, 1.0)
    fake = (sigmoid_cross_entropy(unconditional_fake, 0.0) + sigmoid_cross_entropy(conditional_fake, 0.0)
            + sigmoid_cross_entropy(conditional_wrong, 0.0))
    return real / 2.0 + fake / 3.0


def attngan_generator_loss(unconditional_fake, conditional_fake):
    """One AttnGAN stage's adversarial generator loss, per example (Xu et al. 2018, eq. 3):
    `BCE(u_fake, 1) + BCE(c_fake, 1)`, the non-saturating form of both logits."""
    return sigmoid_cross_entropy(unconditional_fake, 1.0) + sigmoid_cross_entropy(conditional_fake, 1.0)


def conditioning_kl(mu, logvar):
    """KL divergence of N(mu, exp(logvar)) from N(0, I), per example, averaged over the code's
    dimensions as AttnGAN does: conditioning augmentation's regulariser (Zhang et al. 2017,
    StackGAN, eq. 3).

    Args:
        mu, logvar: float tensors `[B, C]`.

    Returns:
        float32 tensor `[B]`.
    """
    mu, logvar = ops.cast(mu, "float32"), ops.cast(logvar, "float32")
    return ops.mean(0.5 * (ops.square(mu) + ops.exp(logvar) - 1.0 - logvar), axis=-1)


def _word_match(words, word_mask, regions, gamma1, gamma2):
    """AttnGAN's `R(Q, D)` (eqs. 8-11) of captions' `words` `[..., T, D]` (`word_mask`
    `[..., T]`) and images' `regions` `[..., R, D]`, the leading axes broadcast: `[...]`."""
    words = ops.cast(words, "float32")
    mask = ops.cast(word_mask, "bool")
    scores = ops.matmul(words, ops.swapaxes(regions, -1, -2))  # [..., T, R]
    scores = ops.softmax(ops.where(mask[..., None], scores, -1e9), axis=-2)  # eq. 8: over the words
    attention = ops.softmax(gamma1 * scores, axis=-1)  # eq. 9: over the regions
    context = ops.matmul(attention, regions)  # [..., T, D]
    relevance = ops.sum(_unit_rows(context) * _unit_rows(words), axis=-1)  # [..., T]
    relevance = ops.where(mask, gamma2 * relevance, -1e9)
    return ops.where(ops.any(mask, axis=-1), ops.logsumexp(relevance, axis=-1) / gamma2, 0.0)


def _symmetric_crossentropy(logits, negative_logits=None):
    """`[B]`: cross-entropy of row i of text-by-image `logits` picking image i, plus that of
    column i picking text i among the batch's texts and image i's `negative_logits` `[B, K]`."""
    targets = ops.arange(ops.shape(logits)[0])
    text_to_image = ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    image_rows = ops.transpose(logits)
    if negative_logits is not None:
        image_rows = ops.concatenate([image_rows, negative_logits], axis=1)
    image_to_text = ops.sparse_categorical_crossentropy(targets, image_rows, from_logits=True)
    return text_to_image + image_to_text


def _unit_rows(x):
    """float32 `x` with each last-axis row scaled to unit length; a zero row stays zero."""
    x = ops.cast(x, "float32")
    # max() inside the rsqrt, so a zero row normalises to zero with a finite gradient.
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


def _batch_scores(image, text, gamma, labels):
    """`[B, B]` scores `gamma * text_i . image_j` of unit rows; with content `labels`, pairs
    of equal content other than the diagonal are masked out (-1e9)."""
    return _masked_same_content(gamma * ops.matmul(text, ops.transpose(image)), labels)


def _masked_same_content(logits, labels):
    """`[B, B]` `logits` with pairs of equal content `labels` other than the diagonal masked
    out (-1e9); unchanged without labels."""
    if labels is not None:
        labels = ops.convert_to_tensor(labels)
        same = ops.logical_and(
            ops.equal(labels[:, None], labels[None, :]), ops.logical_not(ops.eye(ops.shape(logits)[0], dtype="bool"))
        )
        logits = ops.where(same, -1e9, logits)
    return logits


def token_mask(target_ids, pad_id=0):
    """float32 `[B, T]`: 1 where `target_ids` holds a token, 0 on padding."""
    return ops.cast(ops.not_equal(target_ids, pad_id), "float32")


def caption_crossentropy(logits, target_ids, pad_id=0):
    """Teacher-forced maximum-likelihood loss of a caption generator, per example.

    The mean over the caption's tokens of `-log p(w_t | w_<t, image)` (Vinyals et al. 2015,
    "Show and Tell", eq. 4, normalised by length); padding (`pad_id`) does not count. A caption
    without tokens has loss 0.

    Args:
        logits: float tensor `[B, T, V]`, the generator's scores of each next token.
        target_ids: int tensor `[B, T]`, the next tokens (the caption shifted by one).
        pad_id: int, the padding id.

    Returns:
        float32 tensor `[B]`.
    """
    mask = token_mask(target_ids, pad_id)
    nll = ops.sparse_categorical_crossentropy(target_ids, ops.cast(logits, "float32"), from_logits=True)
    return ops.sum(nll * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


def caption_discriminator_loss(
    real_logits,
    fake_logits,
    wrong_logits,
    fake_weight=1.0,
    wrong_weight=1.0,
    label_smoothing=0.0,
):
    """Loss of an image-conditioned caption discriminator (Dai et al. 2017), per example.

    `L_D = BCE(D(I, S), 1 - s) + fake_weight * BCE(D(I, G(I)), 0) + wrong_weight * BCE(D(I, S'), 0)`:
    a real caption `S` of the image is real; a generated caption `G(I)` and a real caption `S'`
    of another image (one that does not describe `I`) are both fake. The wrong-caption term makes
    D judge whether the caption matches the image, not only whether it is fluent. Dai et al.'s
    evaluator objective weights the two negative terms with hyper-parameters (alpha, beta);
    1 and 1 by default here, a sum as in SeqGAN's discriminator (real vs generated, weight 1).

    Args:
        real_logits: float tensor `[B, ...]`, D on (image, its real caption).
        fake_logits: float tensor `[B, ...]`, D on (image, a generated caption of it).
        wrong_logits: float tensor `[B, ...]`, D on (image, a real caption of another image).
        fake_weight: float, weight of the generated-caption term (alpha).
        wrong_weight: float, weight of the wrong-caption term (beta).
        label_smoothing: float in [0, 1), one-sided smoothing: the real target is `1 - s`.

    Returns:
        float tensor `[B]`.
    """
    return gan_cls_discriminator_loss(
        real_logits, wrong_logits, fake_logits, label_smoothing=label_smoothing, wrong_weight=wrong_weight,
        fake_weight=fake_weight,
    )


def policy_gradient_loss(log_probs, advantages, mask):
    """REINFORCE loss of a sequence generator, per example: `-sum_t mask_t * A_t * log pi(w_t)`.

    The gradient of its batch mean is the policy gradient of SeqGAN (Yu et al. 2017, eq. 7):
    `log pi(w_t)` is the log-probability the generator gave the token it sampled at step t and
    `A_t` its advantage (Monte Carlo reward `Q_t` minus a baseline). Advantages are constants:
    no gradient flows into them (`stop_gradient`). A sum over the caption's tokens, not a mean,
    so every token's gradient is weighted by its own advantage whatever the caption's length.

    Args:
        log_probs: float tensor `[B, L]`, `log pi(w_t | w_<t, image)` of the sampled tokens.
        advantages: float tensor `[B, L]`, `A_t` (e.g. `reward_t - baseline_t`).
        mask: float or bool tensor `[B, L]`, 1 on the generated tokens (up to and including
            `<end>`), 0 on padding.

    Returns:
        float32 tensor `[B]`.
    """
    log_probs = ops.cast(log_probs, "float32")
    advantages = ops.stop_gradient(ops.cast(advantages, "float32"))
    return -ops.sum(log_probs * advantages * ops.cast(mask, "float32"), axis=1)


def policy_entropy(log_probs, mask):
    """Entropy of a sequence generator's next-token distributions, summed over the caption, per
    example: `sum_t mask_t * H(pi(. | w_<t))`.

    Subtracted, weighted, from the policy-gradient loss as an entropy bonus (Williams & Peng
    1991; Mnih et al. 2016): a reward-maximising policy otherwise sharpens toward one caption
    per image, and its samples grow less varied than the data's. Summed over tokens as
    `policy_gradient_loss` is, so the two weigh each token alike.

    Args:
        log_probs: float tensor `[B, L, V]`, log-probabilities of every token at each step.
        mask: float or bool tensor `[B, L]`, 1 on the generated tokens, 0 on padding.

    Returns:
        float32 tensor `[B]`.
    """
    log_probs = ops.cast(log_probs, "float32")
    entropy = -ops.sum(ops.exp(log_probs) * log_probs, axis=-1)
    return ops.sum(entropy * ops.cast(mask, "float32"), axis=1)


def hard_negative_matching_loss(
    image_embeddings, text_embeddings, negative_text_embeddings, gamma=10.0, labels=None, negative_mask=None
):
    """`symmetric_matching_loss` with hard negative texts for each image, per example.

    As `symmetric_matching_loss`, except that the softmax of image i over texts also holds
    its own K hard negatives: texts close to caption i that do not describe image i (e.g. the
    caption with one shape word swapped for another). Those scores, `gamma` times the cosine
    similarity of image i with each negative, are appended to image i's row of scores; the
    text -> image softmax is unchanged. An image can then only win by telling its caption from
    the negatives, which makes the text encoder separate the swapped words (hard negatives of
    VSE++, Faghri et al. 2018, and counterfactual captions of contrastive pretraining).

    Args:
        image_embeddings: float tensor `[B, E]`.
        text_embeddings: float tensor `[B, E]`.
        negative_text_embeddings: float tensor `[B, K, E]`, image i's negatives in row i.
        gamma: float, the inverse temperature of the softmax.
        labels: optional tensor `[B]`, content keys (see `symmetric_matching_loss`).
        negative_mask: optional bool tensor `[B, K]`; False leaves that negative out (e.g. a
            caption with no word to swap, which is no negative at all).

    Returns:
        float32 tensor `[B]`.
    """
    image, negatives = _unit_rows(image_embeddings), _unit_rows(negative_text_embeddings)
    logits = _batch_scores(image, _unit_rows(text_embeddings), gamma, labels)
    negative_logits = gamma * ops.sum(image[:, None, :] * negatives, axis=-1)  # [B, K]
    if negative_mask is not None:
        negative_logits = ops.where(ops.convert_to_tensor(negative_mask), negative_logits, -1e9)
    return _symmetric_crossentropy(logits, negative_logits)
