"""Python lambdas in configs, in Keras 3's form: the function's bytecode (``marshal``,
base64), its defaults and closure values (``keras/src/utils/python_utils.py``).

Loading bytecode runs code from the file, so it happens only when the user turns
safe mode off (``load_model(..., safe_mode=False)``), with Keras' own refusal message
otherwise. Bytecode is specific to the Python version that wrote it, as in Keras.

>>> cfg = lambda_config(lambda x: x + 1)
>>> cfg["class_name"]
'__lambda__'
>>> load_lambda(cfg["config"], safe_mode=False)(1)
2
"""

from __future__ import annotations

import builtins
import codecs
import marshal
import types

LAMBDA_REFUSED = (
    "Requested the deserialization of a Python lambda. This carries a potential risk of "
    "arbitrary code execution and thus it is disallowed by default. If you trust the "
    "source of the artifact, you can override this error by passing `safe_mode=False` to "
    "the loading function, or calling `keras.config.enable_unsafe_deserialization().")
LAMBDA_LAYER_REFUSED = (
    "Requested the deserialization of a `Lambda` layer whose `function` is a Python "
    "lambda. This carries a potential risk of arbitrary code execution and thus it is "
    "disallowed by default. If you trust the source of the artifact, you can override "
    "this error by passing `safe_mode=False` to the loading function, or calling "
    "`keras.config.enable_unsafe_deserialization().")


def func_dump(fn) -> tuple:
    """``(base64 bytecode, defaults, closure values)`` as Keras' ``func_dump``."""
    code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
    closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
    return code, fn.__defaults__, closure


def lambda_config(fn) -> dict:
    """``serialize_keras_object``'s dict for a lambda."""
    return {"class_name": "__lambda__", "config": {"value": func_dump(fn)}}


def _globals() -> dict:
    # What a loaded lambda sees as globals: builtins, and the engine under the names
    # Keras code uses for it (``keras.ops.square(x)``, ``ops.square(x)``).
    import core
    from core import ops

    return {"__builtins__": builtins, "keras": core, "core": core, "ops": ops}


def func_load(code, defaults=None, closure=None):
    """The function ``func_dump`` wrote (Keras' ``func_load``). Runs file content:
    callers check safe mode first."""
    if isinstance(code, (list, tuple)):
        code, defaults, closure = code
    if isinstance(defaults, list):
        defaults = tuple(defaults)
    cells = None if closure is None else tuple(types.CellType(v) for v in closure)
    try:
        raw = codecs.decode(code.encode("ascii"), "base64")
        compiled = marshal.loads(raw)
    except (ValueError, EOFError, TypeError, UnicodeEncodeError) as e:
        raise ValueError(f"The lambda's bytecode cannot be read ({e}); it was written by "
                         "another Python version or is damaged.") from None
    if not isinstance(compiled, types.CodeType):
        raise ValueError("The lambda's bytecode does not hold a function's code.")
    return types.FunctionType(compiled, _globals(), compiled.co_name, defaults, cells)


def load_lambda(inner: dict, safe_mode, layer=False):
    """The function of a ``__lambda__`` config: ``{"value": (code, defaults, closure)}``
    (serialize_keras_object) or ``{"code", "defaults", "closure"}`` (Lambda layer)."""
    if safe_mode is not False:
        raise ValueError(LAMBDA_LAYER_REFUSED if layer else LAMBDA_REFUSED)
    if "value" in inner:
        return func_load(inner["value"])
    return func_load(inner["code"], inner.get("defaults"), inner.get("closure"))
