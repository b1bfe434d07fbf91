"""Kernel Inception Distance (KID): unbiased squared MMD with a cubic polynomial kernel.

Binkowski et al. 2018, "Demystifying MMD GANs" (ICLR): with k(x, y) = (x . y / d + 1)^3 on
d-dimensional activations, KID is the unbiased estimate of MMD^2 between the real and
generated activations, averaged over random subsets (its standard deviation over the subsets
is reported too). Unlike FID the estimator is unbiased, so it can be slightly negative.

Plain numpy; lower is better.

Example:

    kernel_inception_distance(real_pool3, generated_pool3, num_subsets=100, subset_size=1000)
"""

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.metrics.checks import feature_matrix, positive_int, same_width


def polynomial_kernel(x, y):
    """Cubic polynomial kernel of KID between every row of `x` and every row of `y`.

    Args:
        x: float array `[m, d]`.
        y: float array `[n, d]`.

    Returns:
        float64 array `[m, n]`, (x_i . y_j / d + 1)^3.
    """
    x = feature_matrix(x, "x", min_rows=1)
    y = feature_matrix(y, "y", min_rows=1)
    same_width(x, y, "x", "y")
    return _kernel(x, y)


def _kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def unbiased_mmd2(x, y):
    """Unbiased estimate of the squared MMD between the samples `x` and `y` (polynomial kernel).

    The within-set means leave out the diagonals k(x_i, x_i) and k(y_j, y_j).

    Args:
        x: float array `[m, d]`, m >= 2.
        y: float array `[n, d]`, n >= 2.

    Returns:
        float; near 0 (either sign) when both samples come from one distribution.
    """
    x = feature_matrix(x, "x", min_rows=2)
    y = feature_matrix(y, "y", min_rows=2)
    same_width(x, y, "x", "y")
    return _mmd2(x, y)


def _mmd2(x, y):
    """`unbiased_mmd2` of checked float64 arrays."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_inception_distance(real_features, generated_features, num_subsets=100, subset_size=1000,
                              seed=0):
    """KID: mean and standard deviation of `unbiased_mmd2` over random subsets.

    Each subset takes `subset_size` rows of each set, drawn without replacement within the
    subset (subsets may overlap), from `numpy.random.default_rng(seed)`.

    Args:
        real_features: float array `[n_real, d]`.
        generated_features: float array `[n_generated, d]`.
        num_subsets: int >= 1.
        subset_size: int; clipped to min(n_real, n_generated), which must be >= 2.
        seed: seed of the numpy Generator.

    Returns:
        dict `{"mean": float, "std": float}` over the subsets (population std, ddof=0).
    """
    real = feature_matrix(real_features, "real_features", min_rows=1)
    generated = feature_matrix(generated_features, "generated_features", min_rows=1)
    same_width(real, generated, "real_features", "generated_features")
    num_subsets = positive_int(num_subsets, "num_subsets")
    subset_size = min(positive_int(subset_size, "subset_size", minimum=2), len(real), len(generated))
    if subset_size < 2:
        raise UserError(
            f"KID needs at least 2 samples in each set, got {len(real)} real and {len(generated)} generated"
        )
    rng = np.random.default_rng(seed)
    scores = np.empty(num_subsets)
    for s in range(num_subsets):
        r = real[rng.choice(len(real), subset_size, replace=False)]
        g = generated[rng.choice(len(generated), subset_size, replace=False)]
        scores[s] = _mmd2(r, g)
    return {"mean": float(scores.mean()), "std": float(scores.std())}
