"""``compile_config`` of a ``.keras`` file: what ``model.compile`` was given, in Keras 3 form.

Keras writes ``{"optimizer": {...Adam config...}, "loss": "mse", "loss_weights": None,
"metrics": ["accuracy"], "weighted_metrics": None, "run_eagerly": False,
"steps_per_execution": 1, "jit_compile": False}``; loading compiles the model again
with the same settings and builds the optimizer so its saved state can be loaded.

>>> cc = get_compile_config(model)  # doctest: +SKIP
>>> compile_from_config(new_model, cc)  # doctest: +SKIP
"""

from __future__ import annotations


def serialize_object(obj):
    """Optimizer / loss / metric objects and functions in Keras' ``serialize_keras_object``
    form (custom ones under their registered names); names stay names; lists and dicts
    are mapped."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_object(o) for o in obj]
    if isinstance(obj, dict):
        return {k: serialize_object(v) for k, v in obj.items()}
    from core.saving.keras_objects import serialize_keras_object

    return serialize_keras_object(obj)


def get_compile_config(model) -> dict | None:
    """Keras 3 ``model.get_compile_config()``, or None for a model never compiled."""
    own = getattr(type(model), "get_compile_config", None)
    if own is not None:
        # A model's own get_compile_config may hold objects (a loss function, metric
        # objects): Keras saves it through serialize_dict, so the file holds their configs.
        config = own(model)
        return None if config is None else serialize_object(config)
    args = getattr(model, "_compile_args", None)
    optimizer = getattr(model, "optimizer", None)
    if not args or optimizer is None:
        return None
    return {
        "optimizer": serialize_object(optimizer),
        "loss": serialize_object(args.get("loss")),
        "loss_weights": serialize_object(args.get("loss_weights")),
        "metrics": serialize_object(args.get("metrics")),
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def _revive(value, module):
    """Dicts back to objects through the module's own ``get``; names stay names."""
    if isinstance(value, list):
        return [_revive(v, module) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _revive(v, module) for k, v in value.items()}
    if isinstance(value, dict) and value.get("class_name") == "function":
        # A function stays a function in the compile arguments (so it is saved back as
        # Keras wrote it); compile wraps it.
        from core.saving.keras_objects import deserialize_keras_object

        return deserialize_keras_object(value, module_objects=getattr(
            module, "ALL_OBJECTS_DICT", None))
    if isinstance(value, dict):
        return module.get(value)
    return value


def compile_from_config(model, config: dict) -> None:
    """Compile ``model`` as the saved one was and create the optimizer's slot variables."""
    if not isinstance(config, dict):
        raise ValueError(f"compile_config must be a dict, got {type(config).__name__}.")
    if _overrides(model, "compile_from_config"):
        # Keras calls the model's own compile_from_config (it deserializes what its
        # get_compile_config wrote and calls its own compile signature).
        model.compile_from_config(config)
        build_optimizer(model)
        return
    if _overrides(model, "compile"):
        # As Keras: a custom compile() signature cannot take the standard config.
        import warnings

        warnings.warn(
            f"`compile()` was not called as part of model loading because the model's "
            f"`compile()` method ({type(model).__name__}) is custom. All subclassed Models "
            "that have `compile()` overridden should also override `get_compile_config()` "
            "and `compile_from_config(config)`. Alternatively, you can call `compile()` "
            "manually after loading.", stacklevel=2)
        return
    from core import losses, optimizers

    opt_cfg = config.get("optimizer", "rmsprop")
    optimizer = optimizers.get(opt_cfg)
    metrics = config.get("metrics")
    if any(isinstance(m, dict) for m in (metrics or [])):
        from core import metrics as metrics_mod
        metrics = _revive(metrics, metrics_mod)
    model.compile(optimizer=optimizer, loss=_revive(config.get("loss"), losses),
                  loss_weights=config.get("loss_weights"), metrics=metrics)
    build_optimizer(model)


def _overrides(model, method: str) -> bool:
    """Whether the model's class defines ``method`` itself (the engine's Model has no
    ``compile_from_config`` method; its ``compile`` is the built-in one). The built-in
    class comes from the registry: saving never imports the models package."""
    from core.saving.object_registry import builtin_model

    own = getattr(type(model), method, None)
    return own is not None and own is not getattr(builtin_model("Model"), method, None)


def build_optimizer(model) -> None:
    """Create the optimizer's slots for the model's variables (Keras does this in
    ``compile_from_config``) so the saved optimizer state has somewhere to go."""
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(model, "built", False):
        return
    if not getattr(opt, "built", False) and hasattr(opt, "build"):
        opt.build(model.trainable_variables)
