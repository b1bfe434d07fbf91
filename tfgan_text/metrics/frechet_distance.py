"""Fréchet distance between two sets of activations (FID when they are Inception pool features).

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium" (NeurIPS): fit a Gaussian to each set of activations and report

    ||m1 - m2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)).

Plain numpy and scipy; lower is better, 0 for identical statistics.

Example:

    fid_from_features(real_pool3, generated_pool3)  # arrays [samples, 2048]
"""

import warnings

import numpy as np
import scipy.linalg

from tfgan_text.errors import UserError
from tfgan_text.metrics.checks import feature_matrix

# Added to both covariances' diagonals when (C1 C2)^(1/2) cannot be computed as it is.
_EPS = 1e-6


def activation_statistics(features):
    """Mean and covariance of a set of activations.

    Args:
        features: float array `[n, d]`, one row per sample, n >= 2.

    Returns:
        `(mean, covariance)`: float64 arrays `[d]` and `[d, d]` (unbiased covariance, the
        `np.cov(features, rowvar=False)` of the FID reference code).
    """
    x = feature_matrix(features, "features", min_rows=2)
    mean = x.mean(axis=0)
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    return mean, cov


def _statistics(mean, cov, which):
    try:
        mean = np.asarray(mean, dtype=np.float64)
        cov = np.asarray(cov, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"mean{which} and cov{which} must be numeric arrays") from None
    if mean.ndim != 1:
        raise UserError(f"mean{which} must be 1-D [d], got shape {mean.shape}")
    if cov.shape != (mean.shape[0], mean.shape[0]):
        raise UserError(
            f"cov{which} must be [d, d] with d = {mean.shape[0]} from mean{which}, got shape {cov.shape}"
        )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise UserError(f"mean{which} or cov{which} holds NaN or infinite values")
    return mean, cov


def _sqrtm_of_product(cov1, cov2):
    """(cov1 cov2)^(1/2), retried with eps * I on both factors if the product is singular."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            root = scipy.linalg.sqrtm(cov1 @ cov2)
            if np.all(np.isfinite(root)):
                return root
        except scipy.linalg.LinAlgWarning:  # singular product (scipy >= 1.16 warns)
            pass
    offset = np.eye(cov1.shape[0]) * _EPS
    return scipy.linalg.sqrtm((cov1 + offset) @ (cov2 + offset))


def frechet_distance(mean1, cov1, mean2, cov2):
    """Fréchet distance between the Gaussians N(mean1, cov1) and N(mean2, cov2).

    If `cov1 @ cov2` is singular (or its square root is not finite), `1e-6 * I` is added to both
    covariances and the root taken again. A complex root whose diagonal has a negligible
    imaginary part (atol 1e-3) is reduced to its real part; a larger one is a UserError.

    Args:
        mean1, mean2: float arrays `[d]`.
        cov1, cov2: float arrays `[d, d]`, symmetric positive semi-definite.

    Returns:
        float, ||mean1 - mean2||^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)).
    """
    mean1, cov1 = _statistics(mean1, cov1, "1")
    mean2, cov2 = _statistics(mean2, cov2, "2")
    if mean1.shape != mean2.shape:
        raise UserError(
            f"the two sets have different feature widths: {mean1.shape[0]} and {mean2.shape[0]}"
        )
    root = _sqrtm_of_product(cov1, cov2)
    if not np.all(np.isfinite(root)):
        raise UserError("the square root of cov1 @ cov2 is not finite, even with 1e-6 added to the diagonals")
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            largest = np.max(np.abs(root.imag))
            raise UserError(
                f"the square root of cov1 @ cov2 has an imaginary component of {largest:.3g}; "
                "are the covariances positive semi-definite?"
            )
        root = root.real
    diff = mean1 - mean2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(root))


def fid_from_features(real_features, generated_features):
    """Fréchet Inception Distance between two sets of activations.

    Args:
        real_features: float array `[n_real, d]`, n_real >= 2.
        generated_features: float array `[n_generated, d]`, n_generated >= 2.

    Returns:
        float, `frechet_distance` of their `activation_statistics`.
    """
    real = feature_matrix(real_features, "real_features", min_rows=2)
    generated = feature_matrix(generated_features, "generated_features", min_rows=2)
    if real.shape[1] != generated.shape[1]:
        raise UserError(
            f"real_features has {real.shape[1]} features per sample, generated_features {generated.shape[1]}"
        )
    return frechet_distance(*activation_statistics(real), *activation_statistics(generated))
