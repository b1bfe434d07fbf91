"""The dtype policy of a run: float32 (`off`), or mixed precision computing in float16 or bfloat16.

Under `mixed_float16` and `mixed_bfloat16` the layers compute in the 16-bit type and keep
float32 weights; the networks' outputs (logits, images, embeddings) and every loss stay float32.
Under `mixed_float16` every optimizer is wrapped in a `LossScaleOptimizer` at `compile` (Keras
wraps `optimizer`, the GANs their two with `tfgan_text.models.mixed_precision.loss_scaled`);
bfloat16 has float32's range and needs no loss scaling.
A saved model loads in the policy in force where it is loaded (`tfgan_text.models.load_model`),
so an export is float32 whatever the run trained in.
"""

import contextlib

import keras

from tfgan_text.errors import UserError
from tfgan_text.training.run_settings import PRECISIONS


@contextlib.contextmanager
def dtype_policy(name):
    """Sets Keras's global dtype policy to `name` (one of `PRECISIONS`; `off` is float32) for
    the models built and loaded inside, and restores the previous policy on exit.

    Example:
        >>> with strategy.scope(), dtype_policy("mixed_bfloat16"):
        ...     model = build_model(...)
        ...     model.compile(jit_compile=True)
        ...     model.fit(dataset)
    """
    if name not in PRECISIONS:
        raise UserError(f"unknown mixed precision {name!r}; expected one of {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if name == "off" else name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
