"""Input checks shared by the metrics computed from activations (FID, KID, precision/recall,
R-precision): each bad input is one `UserError` line naming the argument."""

import numpy as np

from tfgan_text.errors import UserError


def feature_matrix(features, name, min_rows=1):
    """float64 `[n, d]` array of finite values with n >= min_rows, else UserError."""
    try:
        x = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a numeric array [samples, features]") from None
    if x.ndim != 2:
        raise UserError(f"{name} must be a 2-D array [samples, features], got shape {x.shape}")
    if x.shape[0] < min_rows:
        raise UserError(f"{name} needs at least {min_rows} samples, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise UserError(f"{name} has no features (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{name} holds NaN or infinite values")
    return x


def same_width(x, y, x_name, y_name):
    """UserError unless the two feature matrices have as many features per sample."""
    if x.shape[1] != y.shape[1]:
        raise UserError(f"{x_name} has {x.shape[1]} features per sample, {y_name} {y.shape[1]}")


def positive_int(value, name, minimum=1):
    """`value` as an int >= minimum, else UserError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UserError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
