"""Inception Score (IS) from a classifier's class probabilities.

Salimans et al. 2016, "Improved Techniques for Training GANs" (NeurIPS): split the generated
samples into consecutive chunks; in each chunk, IS = exp(mean over samples of
KL(p(y|x) || p(y))) with p(y) the chunk's mean prediction. The mean and standard deviation over
the chunks are reported. Higher is better: 1 for predictions that do not depend on the
sample, C for confident predictions spread evenly over C classes.

Plain numpy and scipy.

Example:

    inception_score(softmax_outputs, splits=10)  # softmax_outputs: [samples, classes]
"""

import numpy as np
from scipy.special import rel_entr

from tfgan_text.errors import UserError


def inception_score(probabilities, splits=10):
    """Mean and standard deviation of the Inception Score over `splits` consecutive chunks.

    Chunk i holds rows `[i * n // splits, (i + 1) * n // splits)`, as in the reference code.
    Zero probabilities are handled exactly (0 * log 0 = 0, via `scipy.special.rel_entr`).

    Args:
        probabilities: float array `[n, C]`, each row a distribution over the C classes
            (non-negative, summing to 1 within 1e-3).
        splits: int, 1 <= splits <= n.

    Returns:
        dict `{"mean": float, "std": float}` over the chunks (population std, ddof=0).
    """
    try:
        p = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError("probabilities must be a numeric array [samples, classes]") from None
    if p.ndim != 2 or p.shape[1] < 1:
        raise UserError(f"probabilities must be a 2-D array [samples, classes], got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise UserError("probabilities holds NaN or infinite values")
    if np.any(p < 0):
        raise UserError(f"probabilities must be non-negative, got a minimum of {p.min():.3g}")
    sums = p.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
    if bad.size:
        raise UserError(
            f"each row of probabilities must sum to 1 (within 1e-3); row {bad[0]} sums to {sums[bad[0]]:.6g}"
        )
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
        raise UserError(f"splits must be an integer >= 1, got {splits!r}")
    n = len(p)
    if splits > n:
        raise UserError(f"splits={splits} needs at least {splits} samples, got {n}")
    scores = np.empty(splits)
    for i in range(splits):
        chunk = p[i * n // splits : (i + 1) * n // splits]
        marginal = chunk.mean(axis=0, keepdims=True)
        kl = rel_entr(chunk, marginal).sum(axis=1)
        scores[i] = np.exp(kl.mean())
    return {"mean": float(scores.mean()), "std": float(scores.std())}
