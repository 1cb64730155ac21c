"""The Keras 3 ``.keras`` file: a zip of ``metadata.json``, ``config.json``,
``model.weights.h5`` and the ``assets/`` files of layers with ``save_assets``
(``core.saving.assets``) -- Keras' own layout, so files move both ways between Keras
and Netweaver -- plus ``.weights.h5`` files for weights alone.

Writing is atomic (a temporary file in the target folder, then ``os.replace``).
Reading trusts nothing: member names, member count and sizes are checked before
anything is extracted, the h5 part is opened read-only from memory, nothing is
unpickled or evaluated, and every problem is one ``ModelFileError`` naming the
file and what is wrong.

>>> save_model(model, "mnist.keras")  # doctest: +SKIP
>>> model = load_model("mnist.keras")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
import zlib

from core import safety, safety_writes
from core.saving import assets, serialization
from core.saving.compile_config import compile_from_config
from core.saving.file_checks import (  # noqa: F401 - the errors are this module's API too
    CompileSettingsError,
    ModelFileError,
    check_config,
    parse_json,
    refuse_code,
)
from core.saving.weights_h5 import WeightsError, read_weights, write_weights

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
KERAS_VERSION = "3.15.1"  # the Keras release whose files ours were checked against
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 2 * 1024**3  # far above any model the app trains; stops zip bombs
MAX_JSON_BYTES = 64 * 1024**2


# ----------------------------------------------------------------------------- writing
def _atomic_write(path: str, write) -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path``, then move it into place
    (see ``core.safety_writes``: mode kept, symlinks written through)."""
    safety_writes.atomic_write(path, write)


def model_config(model) -> dict:
    """The ``config.json`` dict: ``serialize_keras_object(model)``, whose
    ``compile_config`` is ``{}`` for a model never compiled (as Keras writes it)."""
    return serialization.serialize_layer(model)


def _weights_bytes(model) -> bytes:
    import h5py

    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        write_weights(model, f)
    return bio.getvalue()


def save_model(model, filepath, overwrite=True, zipped=True) -> None:
    """Write ``model`` (config, weights, optimizer state) as a Keras 3 ``.keras`` file.

    zipped=False writes the same three files into a folder named ``filepath``.
    """
    path = os.fspath(filepath)
    if _is_legacy_h5(path):  # Keras 3 still writes these with its legacy writer
        from core.saving.legacy_h5 import save_legacy_h5
        return save_legacy_h5(model, path, overwrite=overwrite)
    if not path.endswith(".keras"):
        raise ValueError(f"Invalid filepath {path!r}: a model file must end in '.keras' "
                         "(or '.h5' for the legacy format).")
    if not overwrite and os.path.exists(path):
        raise ValueError(f"{path} already exists and overwrite=False.")
    if not getattr(model, "built", False):
        raise ValueError(f"Model '{model.name}' has not been built, so it has no weights to "
                         "save; call it on data or build it first.")
    members = {
        METADATA: json.dumps({
            "keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        }).encode(),
        CONFIG: json.dumps(model_config(model)).encode(),
        WEIGHTS: _weights_bytes(model),
        **assets.asset_members(model),  # after the weights, as Keras writes them
    }
    if zipped:
        def write(f):
            # ZIP_STORED like Keras: the h5 part is binary and barely compresses.
            with zipfile.ZipFile(f, "w") as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
        _atomic_write(path, write)
    else:
        _write_folder(path, members)


def _write_folder(path: str, members: dict) -> None:
    safety_writes.write_folder(path, members)


def _recover_folder_save(path: str) -> None:
    """Put back what a save killed half-way left (see ``safety_writes.recover``)."""
    safety_writes.recover(path)


# ----------------------------------------------------------------------------- reading
def _safe_member_name(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    if len(name) > 1 and name[1] == ":":  # Windows drive letter
        return False
    return ".." not in name.split("/")


def _member_limit() -> int:
    """Largest total a .keras may inflate to: the fixed cap, or less on a machine
    with little free memory (reading costs up to twice the member's size)."""
    return min(MAX_TOTAL_BYTES, safety.memory_budget() // 2)


def _reject_zip_bomb(path: str, info) -> None:
    """Keras' ``_reject_zip_bomb``: a member past the floor that claims more than
    ``MAX_EXPANSION`` times what it stores cannot be a real model part."""
    if info.file_size > safety.EXPANSION_FLOOR and \
            info.file_size > safety.MAX_EXPANSION * max(1, info.compress_size):
        raise ModelFileError(
            f"{path}: member {info.filename!r} declares {safety.fmt_bytes(info.file_size)} "
            f"but stores only {safety.fmt_bytes(info.compress_size)}; refusing to load a "
            "likely decompression bomb.")


class Archive(dict):
    """``{member name: bytes}`` of a ``.keras``: its three parts and ``assets/`` files;
    ``member_count`` is how many members (files, for a folder) it has in all."""

    member_count = 0


def read_archive(path: str) -> Archive:
    """The three parts and the ``assets/`` files of a ``.keras`` zip or folder, after
    the safety checks."""
    _recover_folder_save(path)
    if os.path.isdir(path):
        return _read_folder(path)
    if not os.path.lexists(path):
        raise ModelFileError(f"{path}: file not found.")
    try:
        with safety.open_regular(path, ModelFileError, "model file") as raw, \
                zipfile.ZipFile(raw) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ModelFileError(f"{path}: the archive has {len(infos)} members "
                                     f"(limit {MAX_MEMBERS}); refusing to open it.")
            bad = [i.filename for i in infos if not _safe_member_name(i.filename)]
            if bad:
                raise ModelFileError(f"{path}: unsafe member name {bad[0]!r} (absolute or "
                                     "'..' paths could write outside a folder).")
            names = {i.filename: i for i in infos}
            total = sum(i.file_size for i in infos)
            limit = _member_limit()
            if total > limit:
                raise ModelFileError(f"{path}: members would inflate to "
                                     f"{safety.fmt_bytes(total)} ({total} bytes; limit "
                                     f"{limit}); refusing to open it.")
            out = Archive()
            out.member_count = len(infos)
            wanted = [CONFIG, WEIGHTS, METADATA] + [n for n in names
                                                    if n.startswith(assets.PREFIX)]
            for member in wanted:
                info = names.get(member)
                if info is None:
                    if member == METADATA:
                        continue  # Keras itself never reads it back
                    raise ModelFileError(f"{path}: the archive has no {member} "
                                         f"(members: {sorted(names)[:10]}).")
                if member in (CONFIG, METADATA) and info.file_size > MAX_JSON_BYTES:
                    raise ModelFileError(f"{path}: {member} is {info.file_size} bytes "
                                         f"(limit {MAX_JSON_BYTES}).")
                _reject_zip_bomb(path, info)
                # Streamed in chunks and counted: never more than the declared size
                # (ZipExtFile also stops there and checks the CRC).
                with zf.open(info) as f:
                    out[member] = safety.read_bounded(f, info.file_size, path,
                                                      ModelFileError, member)
            return out
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as e:
        raise ModelFileError(f"{path}: not a valid .keras file (corrupt, truncated or not "
                             f"a zip archive: {e}).") from None


def _read_folder(path: str) -> Archive:
    out = Archive()
    out.member_count = len(os.listdir(path))
    for member in (CONFIG, WEIGHTS, METADATA) + assets.folder_members(path, ModelFileError,
                                                                       MAX_MEMBERS):
        p = os.path.join(path, member)
        if not os.path.lexists(p):
            if member == METADATA:
                continue
            raise ModelFileError(f"{path}: the model folder has no {member}.")
        limit = MAX_JSON_BYTES if member in (CONFIG, METADATA) else _member_limit()
        with safety.open_regular(p, ModelFileError, "model part") as f:
            out[member] = safety.read_bounded(f, limit, p, ModelFileError, member)
    return out


def _open_h5(path: str, data: bytes):
    import h5py

    try:
        return h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError) as e:
        raise ModelFileError(f"{path}: {WEIGHTS} is not a readable HDF5 file ({e}).") from None


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model from a ``.keras`` file (Keras' or ours), with its weights and,
    when ``compile``, its compile settings and optimizer state. A ``.h5``/``.hdf5``
    path is a legacy Keras 2 / tf.keras model file (``core.saving.legacy_h5``).

    custom_objects: ``{name: class or function}`` for your own objects (or register
    them with ``@register_keras_serializable``). safe_mode (default True), as in
    Keras: a file holding Python bytecode (a ``Lambda`` layer's lambda, Keras'
    ``__lambda__``) is refused; ``safe_mode=False`` loads and so runs that code —
    only for files you trust. Nothing else in a file is ever executed.
    """
    from core.saving.keras_objects import SafeModeScope, in_safe_mode
    from core.saving.object_registry import custom_object_scope

    path = os.fspath(filepath)
    if _is_legacy_h5(path):
        from core.saving.legacy_h5 import load_legacy_h5
        return load_legacy_h5(path, custom_objects=custom_objects, compile=compile)
    members = read_archive(path)
    config = parse_json(path, CONFIG, members[CONFIG])
    if METADATA in members:
        parse_json(path, METADATA, members[METADATA])
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ModelFileError(f"{path}: {CONFIG} does not describe a model (no class_name).")
    if in_safe_mode() is not None:  # keras.config.enable_unsafe_deserialization() wins
        safe_mode = in_safe_mode()
    if safe_mode is not False:
        refuse_code(path, config)
    check_config(path, config)
    try:
        with SafeModeScope(safe_mode is not False):
            model = serialization.deserialize_layer(config, custom_objects=custom_objects)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, AttributeError) as e:
        # AttributeError: a list where a dict belongs, deep in a layer's from_config.
        raise ModelFileError(f"{path}: cannot rebuild the model from {CONFIG}: {e}") from e
    compiled = False
    if compile and config.get("compile_config"):
        try:
            with custom_object_scope(custom_objects):
                compile_from_config(model, config["compile_config"])
            # A custom compile() without compile_from_config is skipped (Keras warns):
            # then there is no optimizer to take the saved optimizer state.
            compiled = getattr(model, "optimizer", None) is not None
        except (ValueError, TypeError, KeyError) as e:
            raise CompileSettingsError(f"{path}: cannot restore the compile settings: {e}") \
                from e
    h5 = _open_h5(path, members[WEIGHTS])
    try:
        read_weights(model, h5, skip_optimizer=not compiled)
    except WeightsError as e:
        raise ModelFileError(f"{path}: {e}") from None
    except (OSError, KeyError, ValueError, RuntimeError) as e:  # h5py: RuntimeError too
        raise ModelFileError(f"{path}: {WEIGHTS} is corrupt ({e}).") from None
    finally:
        h5.close()
    try:
        assets.load_assets(model, members, members.member_count)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelFileError(f"{path}: a layer's load_assets failed on the file's assets/ "
                             f"({type(e).__name__}: {e}).") from e
    return model


def _is_legacy_h5(path: str) -> bool:
    """A legacy whole-model ``.h5`` (Keras 2 / tf.keras), not a ``.weights.h5``."""
    low = path.lower()
    return low.endswith((".h5", ".hdf5")) and not low.endswith(".weights.h5")


# ----------------------------------------------------------------------------- weights only
def save_weights(model, filepath, overwrite=True) -> None:
    """Keras 3 ``model.save_weights``: the ``model.weights.h5`` layout as its own file."""
    path = os.fspath(filepath)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"Invalid filepath {path!r}: a weights file must end in "
                         "'.weights.h5'.")
    if not overwrite and os.path.exists(path):
        raise ValueError(f"{path} already exists and overwrite=False.")
    data = _weights_bytes(model)
    _atomic_write(path, lambda f: f.write(data))


def load_weights(model, filepath, skip_mismatch=False) -> None:
    """Load a ``.weights.h5`` (or the weights of a ``.keras``) into ``model``, all or nothing."""
    import h5py

    path = os.fspath(filepath)
    if skip_mismatch:
        raise ValueError("load_weights: skip_mismatch=True is not supported; weights are "
                         "loaded all or nothing.")
    if path.endswith(".keras"):
        h5 = _open_h5(path, read_archive(path)[WEIGHTS])
    elif path.endswith(".weights.h5"):
        if not os.path.isfile(path):
            raise ModelFileError(f"{path}: file not found.")
        try:
            h5 = h5py.File(path, "r")
        except OSError as e:
            raise ModelFileError(f"{path}: not a readable HDF5 weights file ({e}).") from None
    else:
        raise ValueError(f"Invalid filepath {path!r}: expected a '.weights.h5' or '.keras' "
                         "file.")
    try:
        read_weights(model, h5)
    except WeightsError as e:
        raise ModelFileError(f"{path}: {e}") from None
    except (OSError, KeyError, ValueError, RuntimeError) as e:  # h5py: RuntimeError too
        raise ModelFileError(f"{path}: the weights file is corrupt ({e}).") from None
    finally:
        h5.close()
