"""Keras 3's ``model.weights.h5`` layout: walking a model like ``saving_lib`` does.

Each saveable (a layer, a model, an optimizer) stores its own variables with its
``save_own_variables(store)`` -- by default datasets ``0``, ``1``... -- in a ``vars``
group at its path, the group's ``name`` attribute holding the saveable's name, and
reads them back with ``load_own_variables(store)``; a layer may override both to keep
more state, as in Keras. Paths follow Keras'
``_save_state``: a Sequential/Functional model first lists ``layers`` (named by
snake-case class name with a per-class counter: ``layers/dense``,
``layers/dense_1``...), then the other attributes in ``dir()`` order with
private ones last (``optimizer`` -> ``optimizer/vars/0`` = iterations...). A
saveable reached twice is stored once.

Loading is all-or-nothing: every group is checked (plain datasets of numbers, no
links) before a hook reads it, the default hook checks count and shapes before it
assigns, and the value of every variable is kept first and put back if any saveable
fails, so a bad file changes nothing.

>>> import h5py  # doctest: +SKIP
>>> with h5py.File("m.weights.h5", "w") as f:  # doctest: +SKIP
...     write_weights(model, f)
"""

from __future__ import annotations

import re

import numpy as np

from core.layers.base import Layer

_SKIP_EXTRA = {"_layers", "_functional", "operations", "_operations", "_all_layers",
               "_self_unconditional_dependency_names"}
_skip_cache: dict[str, set] = {}


class WeightsError(ValueError):
    """Raised for a weights file that does not fit the model (the caller adds the file name)."""


def snake_case(name: str) -> str:
    """Keras' ``naming.to_snake_case`` (``Conv2D`` -> ``conv2d``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    if name[0] == "_":
        return "private" + name
    return name


def _is_optimizer(obj) -> bool:
    return any(c.__name__ in ("Optimizer", "BaseOptimizer") and
               c.__module__.startswith("core.optimizers") for c in type(obj).__mro__)


def _is_saveable(obj) -> bool:
    return isinstance(obj, Layer) or _is_optimizer(obj)


def _obj_type(obj) -> str:
    if _is_optimizer(obj):
        return "Optimizer"
    name = type(obj).__name__
    if name in ("Sequential", "Functional") and type(obj).__module__.startswith("core.models"):
        return name
    return "Layer"


def _skiplist(kind: str) -> set:
    """Attributes a plain ``Layer`` (or optimizer) already has: Keras' ``get_attr_skiplist``."""
    if kind not in _skip_cache:
        if kind == "Optimizer":
            skip = set()  # optimizer children are variables only; nothing to walk
        else:
            ref = Layer(name="_skiplist_reference")
            skip = set(dir(ref)) | _SKIP_EXTRA
        _skip_cache[kind] = skip
    return _skip_cache[kind]


def _name_key(name: str) -> str:
    return "~" + name if name.startswith("_") else name


def _children(obj):
    kind = _obj_type(obj)
    if kind == "Optimizer":
        return
    if kind in ("Sequential", "Functional"):
        yield "layers", obj.layers
    skip = _skiplist(kind)
    for attr in sorted(dir(obj), key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            child = getattr(obj, attr)
        except Exception:  # a property that cannot be evaluated now is not state
            continue
        yield attr, child


def own_variables(obj) -> list:
    """The variables a saveable stores itself, in Keras' order."""
    if _is_optimizer(obj):
        return list(obj.variables)
    return list(obj._trainable_variables) + list(obj._non_trainable_variables)


def _walk(obj, path: str, visited: set, visit):
    """Call ``visit(obj, path)`` for every saveable reachable from ``obj`` (Keras order)."""
    if id(obj) in visited:
        return
    visit(obj, path)
    visited.add(id(obj))
    top_model = _obj_type(obj) in ("Sequential", "Functional")
    for attr, child in _children(obj):
        child_path = f"{path}/{attr}" if path else attr
        if _is_saveable(child):
            if top_model and attr != "layers" and type(child).__name__ == "InputLayer":
                continue  # Keras keeps a Sequential's InputLayer out of the saved state
            _walk(child, child_path, visited, visit)
        elif isinstance(child, (list, tuple, dict, set)) and not isinstance(child, str):
            items = list(child.values()) if isinstance(child, dict) else list(child)
            used: dict[str, int] = {}
            for item in items:
                if not _is_saveable(item):
                    continue
                if top_model and attr != "layers" and type(item).__name__ == "InputLayer":
                    continue
                name = snake_case(type(item).__name__)
                if name in used:
                    used[name] += 1
                    name = f"{name}_{used[name]}"
                else:
                    used[name] = 0
                _walk(item, f"{child_path}/{name}", visited, visit)


def describe(obj) -> str:
    if _is_optimizer(obj):
        return f"optimizer '{getattr(obj, 'name', type(obj).__name__)}'"
    return f"layer '{obj.name}'"


class MissingEntry(WeightsError, KeyError):
    """A key a ``load_own_variables`` asked for is not in its ``vars`` group."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0])


class WriteEntry:
    """The ``vars`` group of one saveable, for its ``save_own_variables(store)``:
    ``store[key] = array`` writes a dataset (Keras' ``H5IOStore`` entry)."""

    def __init__(self, group):
        self._group = group

    def __setitem__(self, key, value):
        self._group.create_dataset(str(key), data=np.asarray(value))

    def __contains__(self, key):
        return str(key) in self._group

    def keys(self):
        return list(self._group.keys())

    def __len__(self):
        return len(self._group)


class ReadEntry:
    """The ``vars`` group of one saveable, for its ``load_own_variables(store)``:
    ``store[key]`` is a numpy array, read only after the group passed the checks of
    ``_read_group`` (plain datasets of numbers, no links)."""

    def __init__(self, arrays: dict, key: str):
        self._arrays, self._key = arrays, key

    def __getitem__(self, key):
        ds = self._arrays.get(str(key))
        if ds is None:
            raise MissingEntry(f"'{self._key}' has no entry {str(key)!r} (it holds "
                               f"{sorted(self._arrays)})")
        return np.asarray(ds[()])

    def __contains__(self, key):
        return str(key) in self._arrays

    def keys(self):
        return list(self._arrays)

    def __len__(self):
        return len(self._arrays)


def _vars_key(path: str) -> str:
    return f"{path}/vars" if path else "vars"


def write_weights(model, h5file) -> None:
    """Write ``model``'s state (and its optimizer's) into an open, writable h5py File:
    each saveable's ``save_own_variables`` fills its own ``vars`` group."""
    def visit(obj, path):
        group = h5file.create_group(_vars_key(path))
        # Keras 3.15's saving_lib tags each vars group with the saveable's name.
        name = getattr(obj, "name", None)
        if isinstance(name, str):
            group.attrs["name"] = name
        if hasattr(obj, "save_own_variables"):
            obj.save_own_variables(WriteEntry(group))

    _walk(model, "", set(), visit)


def check_self_contained(h5file) -> None:
    """Refuse any HDF5 file that could make reading it touch another file.

    Keras writes only groups, hard links and plain datasets; an external link,
    a soft link (which may lead to one), a virtual dataset or external raw
    storage would read data from elsewhere on disk, so any of them anywhere in
    the file (checked link by link, without following any) refuses it.
    """
    import h5py

    bad: list[str] = []

    def visit(name, link):
        if not isinstance(link, h5py.HardLink):
            bad.append(f"'{name}' is a {type(link).__name__}")
            return True  # stop: one is enough
        return None

    h5file.visititems_links(visit)
    if bad:
        raise WeightsError(f"{bad[0]}; a weights file may only hold plain groups and "
                           "datasets (a link could read data from outside this file).")

    def datasets(name, obj):
        if isinstance(obj, h5py.Dataset) and (obj.is_virtual or obj.external):
            bad.append(name)
            return True
        return None

    h5file.visititems(datasets)
    if bad:
        raise WeightsError(f"dataset '{bad[0]}' stores its data outside this file "
                           "(virtual or external storage); refusing to read it.")


def _read_group(h5file, path: str):
    """Arrays of ``path/vars`` (None when absent), refusing links and external storage."""
    import h5py

    key = f"{path}/vars" if path else "vars"
    if key not in h5file:
        return None
    group = h5file[key]
    if not isinstance(group, h5py.Group):
        raise WeightsError(f"'{key}' is not a group.")
    arrays = {}
    for name in group:
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise WeightsError(f"'{key}/{name}' is a {type(link).__name__}; only plain "
                               "datasets are allowed (links could read other files).")
        ds = group[name]
        if not isinstance(ds, h5py.Dataset):
            raise WeightsError(f"'{key}/{name}' is not a dataset.")
        if ds.is_virtual or ds.external:
            raise WeightsError(f"'{key}/{name}' stores its data outside this file.")
        if ds.dtype.kind not in "biuf":
            raise WeightsError(f"'{key}/{name}' has dtype {ds.dtype}, expected numbers.")
        arrays[name] = ds
    return arrays


def read_weights(model, h5file, skip_optimizer: bool = False, allow_unused: bool = False
                 ) -> None:
    """Load state written by ``write_weights`` (or Keras) into ``model``; all-or-nothing.
    Each saveable's ``load_own_variables`` reads its own ``vars`` group (Keras'
    ``_load_state`` order); the values of every variable are kept first and put back if
    any saveable fails, so a file that does not fit changes nothing. ``allow_unused``:
    the file may hold more layers (the first layers of a Sequential opened without the
    ones after an unsupported layer).

    Raises ``WeightsError`` naming the layer and what does not fit (count, shapes).
    """
    check_self_contained(h5file)
    steps: list[tuple] = []
    visited_paths: set[str] = set()

    def visit(obj, path):
        visited_paths.add(path)
        steps.append((obj, path))

    _walk(model, "", set(), visit)
    kept = [(v, v.numpy()) for obj, _ in steps for v in _state_of(obj)]
    try:
        for obj, path in steps:
            _load_one(obj, path, h5file, skip_optimizer)
        if not allow_unused:
            _check_unused_layers(h5file, visited_paths)
    except BaseException:
        for var, value in kept:  # a failed load leaves the model as it was
            var.assign(value)
        raise


def _state_of(obj) -> list:
    """Every variable a saveable's ``load_own_variables`` may assign."""
    if _is_optimizer(obj):
        return list(obj.variables)
    seen, out = set(), []
    for v in own_variables(obj) + list(getattr(obj, "weights", [])):
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _load_one(obj, path, h5file, skip_optimizer) -> None:
    key = _vars_key(path)
    if _is_optimizer(obj):
        if skip_optimizer or key not in h5file:
            return  # never compiled when saved, or not asked for: left as it is
    if not hasattr(obj, "load_own_variables"):
        return
    store = ReadEntry(_read_group(h5file, path) or {}, key)
    # (An optimizer whose variable count does not fit is left as it is with a warning
    # by its own ``load_own_variables``, as Keras' is, rather than failing the load.)
    try:
        obj.load_own_variables(store)
    except WeightsError as e:
        raise WeightsError(f"{describe(obj)}: {e}.") from None
    except ValueError as e:
        raise WeightsError(f"{str(e).rstrip('.')} at '{key}'.") from None


def _check_unused_layers(h5file, visited_paths: set) -> None:
    """A file with weights for layers the model does not have belongs to another model."""
    extra = []

    def collect(name, obj):
        if name.endswith("/vars") and name.startswith("layers/") and len(obj):
            path = name[: -len("/vars")]
            if path not in visited_paths:
                extra.append(path)

    if "layers" in h5file:
        h5file["layers"].visititems(lambda n, o: collect("layers/" + n, o))
    if extra:
        raise WeightsError(f"the file has weights for {sorted(extra)}, which this model does "
                           "not have (was it saved from a different model?).")
