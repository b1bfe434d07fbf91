"""R-precision of text-to-image generation: does each image pick out its own caption?

Xu et al. 2018, "AttnGAN: Fine-Grained Text to Image Generation with Attentional Generative
Adversarial Networks" (CVPR): each generated image ranks R candidate captions, its true one and
R - 1 = 99 mismatched ones drawn at random, by the cosine similarity of image and text features
(their DAMSM encoders); R-precision is the share of images whose true caption ranks first,
averaged over several draws.

Ties count against the image: a hit needs the true caption's score to be strictly higher than
every mismatched caption's (by more than 1e-9, so rounding does not split equal cosines), so a
constant encoder scores 0 and a duplicate of the true caption among the mismatched ones makes a
miss (pass `groups` to keep duplicates out).

Plain numpy.

Example:

    r_precision(image_embeddings, text_embeddings)  # {"mean": .., "std": .., "num_candidates": 100}
"""

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.metrics.checks import feature_matrix, positive_int

# Scores closer than this are a tie (floating-point rounding of equal cosines).
_TIE = 1e-9


def _unit_rows(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def r_precision(image_features, text_features, num_mismatched=99, draws=10, seed=0, groups=None):
    """R-precision (Xu et al. 2018) by cosine similarity, averaged over random draws.

    For each draw and each image i, the candidates are caption i and `num_mismatched` captions
    drawn without replacement from the other rows j != i; the image is a hit if caption i has
    the strictly highest cosine similarity (a tie with a mismatched caption, within 1e-9, is a
    miss).

    Args:
        image_features: float array `[n, d]`, one row per image.
        text_features: float array `[n, d]`; row i is the true caption of image i.
        num_mismatched: int >= 1, mismatched captions per image (99 gives R = 100).
        draws: int >= 1, independent draws of the mismatched captions.
        seed: seed of the `numpy.random.default_rng` that draws them.
        groups: optional int array `[n]`; captions whose group equals image i's group are never
            drawn as mismatched for image i (e.g. one group per distinct caption text, so a
            duplicate of the true caption is not counted as a wrong one).

    Returns:
        dict `{"mean": float, "std": float, "num_candidates": int}`: the share of hits per
        draw, its mean and population std (ddof=0) over the draws, and num_mismatched + 1.
    """
    images = feature_matrix(image_features, "image_features")
    texts = feature_matrix(text_features, "text_features")
    if images.shape != texts.shape:
        raise UserError(
            f"image_features and text_features must have the same shape [n, d], got {images.shape} "
            f"and {texts.shape}"
        )
    num_mismatched = positive_int(num_mismatched, "num_mismatched")
    draws = positive_int(draws, "draws")
    n = len(images)
    if n - 1 < num_mismatched:
        raise UserError(
            f"R-precision with num_mismatched={num_mismatched} needs at least {num_mismatched + 1} "
            f"images, got {n}"
        )
    pools = None
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,) or not np.issubdtype(groups.dtype, np.integer):
            raise UserError(f"groups must be an int array [{n}], got {groups.dtype} shape {groups.shape}")
        pools = {g: np.flatnonzero(groups != g) for g in np.unique(groups)}
        smallest = min(pools, key=lambda g: len(pools[g]))
        if len(pools[smallest]) < num_mismatched:
            raise UserError(
                f"group {smallest} has only {len(pools[smallest])} captions of other groups, fewer "
                f"than num_mismatched={num_mismatched}"
            )
    images, texts = _unit_rows(images), _unit_rows(texts)
    rng = np.random.default_rng(seed)
    shares = np.empty(draws)
    for draw in range(draws):
        hits = 0
        for i in range(n):
            if pools is None:
                others = rng.choice(n - 1, num_mismatched, replace=False)
                others += others >= i  # skip row i
            else:
                pool = pools[groups[i]]
                others = pool[rng.choice(len(pool), num_mismatched, replace=False)]
            scores = texts[np.concatenate(([i], others))] @ images[i]
            hits += bool(scores[0] > scores[1:].max() + _TIE)
        shares[draw] = hits / n
    return {"mean": float(shares.mean()), "std": float(shares.std()), "num_candidates": num_mismatched + 1}
