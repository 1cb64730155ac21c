"""``keras.config`` as user code touches it: float type, epsilon, image layout, backend.

``floatx``/``epsilon`` are the engine's own settings (``core.backend``); the engine
computes channels-last only, so ``set_image_data_format`` accepts only
``"channels_last"``, and ``backend()`` names the engine's backend, ``"numpy"``.

>>> import core
>>> core.config.floatx(), core.config.image_data_format(), core.config.backend()
('float32', 'channels_last', 'numpy')
"""

from __future__ import annotations

from core.backend import epsilon, floatx, set_epsilon, set_floatx

_IMAGE_DATA_FORMAT = "channels_last"


def image_data_format() -> str:
    """The image layout layers default to: always ``"channels_last"`` here."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Keras' setter; only ``"channels_last"`` is supported by this engine's kernels."""
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"set_image_data_format: expected 'channels_last' or "
                         f"'channels_first', got {data_format!r}.")
    if value != "channels_last":
        raise ValueError("set_image_data_format: this engine computes channels_last only; "
                         "'channels_first' is not supported.")


def enable_unsafe_deserialization() -> None:
    """Keras' switch: from now on (this thread) files holding Python lambdas load, as
    with ``load_model(..., safe_mode=False)``. Only for files you trust."""
    from core.saving.keras_objects import enable_unsafe_deserialization as enable

    enable()


def backend() -> str:
    """The backend's name, as ``keras.config.backend()`` returns ``"torch"`` etc."""
    return "numpy"


__all__ = ["backend", "enable_unsafe_deserialization",
           "epsilon", "floatx", "image_data_format", "set_epsilon",
           "set_floatx", "set_image_data_format"]
