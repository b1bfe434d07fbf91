"""The models under Keras's mixed dtype policies: loss scaling, and a model rebuilt in another policy.

A layer computes in the global dtype policy (`keras.config.dtype_policy()`) in force when it is
made, unless it is given a `dtype` (the networks' output layers are float32); its weights are
float32 in every policy. `tfgan_text.training.precision.dtype_policy` sets the policy of a run.
"""

import keras

# The policies a model may be trained in; a saved model's layers record one of them.
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def loss_scaled(optimizer, model):
    """`optimizer` in a `keras.optimizers.LossScaleOptimizer` when `model` computes in float16
    (`mixed_float16`), as `keras.Model.compile` wraps its own `optimizer`; else `optimizer`.

    A train step takes the gradient of `optimizer.scale_loss(loss)`, and `optimizer.apply`
    unscales it (skipping a step whose gradients are not finite); for an optimizer that is not
    wrapped, both leave the loss and the gradients as they are.
    """
    if model.dtype_policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def in_global_policy(model):
    """`model` computing in the global dtype policy: `model` itself when its configuration
    records that policy, else a copy of it built under that policy, with the same weights.

    A loaded model's own policy is the one it was saved in, while the layers its constructor
    makes take the global one: this gives a model whose layers agree (e.g. float32 throughout
    for an export of a model trained in mixed precision).
    """
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    converted = _with_policy(config, keras.config.dtype_policy().name)
    if converted == config:
        return model
    copy = keras.saving.deserialize_keras_object(converted)
    copy.set_weights(model.get_weights())
    return copy


def _with_policy(config, name):
    """A serialized Keras object `config` with each dtype policy of `POLICIES` in it set to `name`."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config["config"]["name"] in POLICIES:
            return {**config, "config": {**config["config"], "name": name}}
        return {key: _with_policy(value, name) for key, value in config.items()}
    if isinstance(config, list):
        return [_with_policy(value, name) for value in config]
    return config
