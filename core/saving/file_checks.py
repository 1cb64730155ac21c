"""What a model file's ``config.json`` may hold, checked before any class is resolved,
and the errors every model-file reader raises.

Shared by the ``.keras`` reader (``core.saving.keras_format``), the legacy ``.h5``
reader (``core.saving.legacy_h5``) and the app's model opener: JSON without NaN or
absurd nesting, no object naming a module such as ``os``, Keras' own dtype policies
only, and, under safe mode, no stored Python code.

>>> try:
...     check_config("m.keras", {"class_name": "Dense", "module": "os", "config": {}})
... except ModelFileError as e:
...     print(str(e)[:60])
m.keras: config.json names 'Dense' from module 'os', which i
"""

from __future__ import annotations

from core import safety


class ModelFileError(ValueError):
    """A model or weights file that cannot be read: corrupt, unsafe or not this model's."""


class CompileSettingsError(ModelFileError):
    """The model itself is readable but its saved compile settings are not (e.g. a
    tf.keras optimizer argument Keras 3 dropped); ``compile=False`` still loads it."""


def parse_json(path: str, member: str, data: bytes):
    """JSON of a member; NaN/Infinity (a NaN initializer argument or loss weight would
    load silently and poison training) and absurd nesting are refused."""
    try:
        return safety.loads_json(data, MAX_JSON_DEPTH)
    except ValueError as e:
        raise ModelFileError(f"{path}: {member} is not valid JSON ({e}).") from None


MAX_JSON_DEPTH = 200  # deep Sequential-in-Functional nests stay far below this
# Module roots no Keras object lives in: a file naming them is hostile or broken.
_FOREIGN_MODULES = ("os", "sys", "builtins", "subprocess", "shutil", "importlib", "pickle",
                    "marshal", "ctypes", "socket", "posix", "nt", "runpy", "code", "pty",
                    "multiprocessing", "threading", "signal", "io", "pathlib", "tempfile",
                    "urllib", "http", "webbrowser", "eval", "exec")
_POLICIES = ("DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy",
             "QuantizedFloat8DTypePolicy", "DTypePolicyMap")


def check_config(path: str, config) -> None:
    """Loader-side validation of ``config.json`` before any class is resolved: dtype
    policies must be Keras' own (Keras' safe_mode refuses the rest too), no object may
    name a module such as ``os`` or ``builtins``, layer names may not hold '/', and
    an object's ``config`` must be a JSON object (walked without recursion)."""
    stack = [config]
    while stack:
        o = stack.pop()
        if isinstance(o, list):
            stack.extend(o)
            continue
        if not isinstance(o, dict):
            continue
        module = o.get("module")
        # Keras writes every function reference as {"module": "builtins", "class_name":
        # "function", "config": "<registered name>"}: a name looked up in the registry.
        is_function_ref = o.get("class_name") == "function" and module == "builtins"
        if isinstance(module, str) and module.split(".")[0] in _FOREIGN_MODULES and \
                not is_function_ref:
            raise ModelFileError(f"{path}: config.json names {o.get('class_name')!r} from "
                                 f"module {module!r}, which is not a Keras object; refusing "
                                 "the file "
                                 "(Netweaver never imports modules named in a file).")
        if "class_name" in o and "config" in o and o["config"] is not None and \
                not isinstance(o["config"], dict) and o.get("class_name") not in (
                    "__lambda__", "function", "__numpy__", "__tensor__"):
            raise ModelFileError(f"{path}: the config of {o.get('class_name')!r} must be a "
                                 f"JSON object, got {type(o['config']).__name__}.")
        inner = o.get("config") if isinstance(o.get("config"), dict) else {}
        name = inner.get("name")
        if "class_name" in o and isinstance(name, str) and "/" in name:
            raise ModelFileError(f"{path}: layer name {name!r} contains '/', which Keras "
                                 "uses to separate weight paths.")
        dtype = inner.get("dtype")
        if isinstance(dtype, dict) or (dtype is not None and not isinstance(dtype, str)):
            _check_policy(path, inner.get("name"), dtype)
        stack.extend(o.values())


def _check_policy(path, layer, policy) -> None:
    where = f"layer {layer!r}" if isinstance(layer, str) else "a layer"
    if not isinstance(policy, dict):
        raise ModelFileError(f"{path}: the dtype of {where} must be a string or a "
                             f"DTypePolicy object, got {type(policy).__name__}.")
    module, cls, cfg = policy.get("module"), policy.get("class_name"), policy.get("config")
    if module not in (None, "keras") and not str(module).startswith("keras."):
        raise ModelFileError(f"{path}: the dtype policy of {where} comes from module "
                             f"{module!r}; only Keras' own policies are accepted.")
    if cls not in _POLICIES:
        raise ModelFileError(f"{path}: the dtype policy of {where} is {cls!r}; expected "
                             f"one of {', '.join(_POLICIES)}.")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("name"), str):
        raise ModelFileError(f"{path}: the dtype policy of {where} needs a config with a "
                             "string 'name'.")


def refuse_code(path: str, obj) -> None:
    """Keras stores Python lambdas (``__lambda__``) as bytecode: under safe mode (the
    default) a file holding one is refused with Keras' message, before anything is built."""
    from core.saving.lambda_code import LAMBDA_LAYER_REFUSED, LAMBDA_REFUSED

    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            inner = o.get("config")
            if o.get("class_name") == "Lambda" and isinstance(inner, dict) and any(
                    isinstance(inner.get(k), dict) and
                    inner[k].get("class_name") == "__lambda__"
                    for k in ("function", "output_shape")):
                raise ModelFileError(f"{path}: {LAMBDA_LAYER_REFUSED}")
            if o.get("class_name") == "__lambda__" and "config" in o:
                raise ModelFileError(f"{path}: {LAMBDA_REFUSED}")
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
