"""Improved precision and recall of generated samples, from k-nearest-neighbour manifolds.

Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
Models" (NeurIPS): each sample of a set is the centre of a ball whose radius is the distance to
its k-th nearest neighbour in the set; the union of the balls estimates the set's manifold.

- precision: share of generated samples inside the real manifold (quality);
- recall: share of real samples inside the generated manifold (coverage).

A sample is inside when its Euclidean distance to some centre is <= that centre's radius.
Distances are computed `batch_size` rows at a time, so memory stays at `batch_size x N`.

Example:

    precision_recall(real_features, generated_features, k=3)  # {"precision": .., "recall": ..}
"""

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.metrics.checks import feature_matrix, positive_int


def _squared_distances(a, b, b_norms):
    """`[len(a), len(b)]` squared Euclidean distances (b_norms: squared norms of b's rows)."""
    d2 = a @ b.T  # in place from here on: one [len(a), len(b)] array
    d2 *= -2.0
    d2 += np.einsum("ij,ij->i", a, a)[:, None]
    d2 += b_norms[None, :]
    return np.maximum(d2, 0.0, out=d2)


def _radii(x, k, batch_size):
    """Squared distance of each row of x to its k-th nearest other row."""
    norms = np.einsum("ij,ij->i", x, x)
    radii = np.empty(len(x))
    for start in range(0, len(x), batch_size):
        stop = min(start + batch_size, len(x))
        d2 = _squared_distances(x[start:stop], x, norms)
        d2[np.arange(stop - start), np.arange(start, stop)] = np.inf  # not its own neighbour
        d2.partition(k - 1, axis=1)  # in place
        radii[start:stop] = d2[:, k - 1]
        del d2  # before the next batch's array exists
    return radii


def _coverage(samples, centres, centre_radii, batch_size):
    """Share of `samples` within the squared radius of at least one of `centres`."""
    norms = np.einsum("ij,ij->i", centres, centres)
    inside = 0
    for start in range(0, len(samples), batch_size):
        d2 = _squared_distances(samples[start : start + batch_size], centres, norms)
        inside += int(np.count_nonzero((d2 <= centre_radii[None, :]).any(axis=1)))
        del d2  # before the next batch's array exists
    return inside / len(samples)


def manifold_radii(features, k=3, batch_size=1000):
    """Distance from each sample to its k-th nearest neighbour in the set, itself excluded.

    Args:
        features: float array `[n, d]`, n >= k + 1.
        k: int >= 1.
        batch_size: int >= 1, rows whose distances are computed at once.

    Returns:
        float64 array `[n]`.
    """
    k = positive_int(k, "k")
    x = feature_matrix(features, "features", min_rows=k + 1)
    return np.sqrt(_radii(x, k, positive_int(batch_size, "batch_size")))


def precision_recall(real_features, generated_features, k=3, batch_size=1000):
    """Improved precision and recall (Kynkaanniemi et al. 2019) of generated samples.

    Args:
        real_features: float array `[n_real, d]`, n_real >= k + 1.
        generated_features: float array `[n_generated, d]`, n_generated >= k + 1.
        k: int >= 1, the neighbour that sets each ball's radius (the paper uses 3).
        batch_size: int >= 1, rows whose distances are computed at once.

    Returns:
        dict `{"precision": float, "recall": float}`, each in [0, 1].
    """
    k = positive_int(k, "k")
    batch_size = positive_int(batch_size, "batch_size")
    real = feature_matrix(real_features, "real_features", min_rows=k + 1)
    generated = feature_matrix(generated_features, "generated_features", min_rows=k + 1)
    if real.shape[1] != generated.shape[1]:
        raise UserError(
            f"real_features has {real.shape[1]} features per sample, generated_features {generated.shape[1]}"
        )
    real_radii = _radii(real, k, batch_size)
    generated_radii = _radii(generated, k, batch_size)
    return {
        "precision": _coverage(generated, real, real_radii, batch_size),
        "recall": _coverage(real, generated, generated_radii, batch_size),
    }
