"""Reading the ragged arrays of Keras' ``imdb.npz`` without unpickling anything.

``imdb.npz`` stores ``x_train``/``x_test`` as numpy object arrays (one Python list of
word ids per review); ``np.save`` writes those as a pickle stream, which
``np.load(allow_pickle=False)`` refuses and ``allow_pickle=True`` would *execute*.
Here the stream is only *parsed*: ``pickletools.genops`` yields its opcodes (it never
imports or calls anything) and a small stack machine accepts exactly the shape numpy
writes -- ``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`` then ``BUILD``
with ``(version, shape, dtype('O8'), fortran, [list of int lists])`` -- and rebuilds
the lists itself. Any other opcode or global is refused with the member named.

>>> import io, numpy as np, zipfile
>>> buf = io.BytesIO()
>>> np.savez(buf, x=np.array([[1, 2], [3]], dtype=object), y=np.array([0, 1]))
>>> with zipfile.ZipFile(buf) as z:
...     read_ragged(z.read("x.npy"), "x.npy"), np.load(io.BytesIO(z.read("y.npy"))).tolist()
([[1, 2], [3]], [0, 1])
"""

from __future__ import annotations

import io
import pickletools

import numpy as np

_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype")}
_MARK = object()


class _Global:
    def __init__(self, module, name):
        self.key = (module, name)


class _Call:
    def __init__(self, fn, args):
        self.fn, self.args, self.state = fn, args, None


def _pop_mark(stack):
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1:]
            del stack[i:]
            return items
    raise ValueError("MARK missing")


def read_ragged(data: bytes, where: str) -> list:
    """The lists of an object ``.npy`` member (bytes), as a list of lists of ints."""
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(f)
    except ValueError as e:
        raise ValueError(f"{where}: not a .npy array ({e}).") from None
    if dtype != np.dtype(object) or len(shape) != 1:
        raise ValueError(f"{where}: expected a 1-D object array, found {dtype}{shape}.")
    stack, memo = [], {}
    try:
        for op, arg, _ in pickletools.genops(f):
            name = op.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                break
            if name in ("GLOBAL", "STACK_GLOBAL"):
                if name == "GLOBAL":
                    module, _, attr = arg.partition(" ")
                else:
                    module, attr = stack[-2], stack[-1]
                    del stack[-2:]
                    arg = f"{module} {attr}"
                if (module, attr) not in _ALLOWED:
                    raise ValueError(f"refuses the global {arg!r}")
                stack.append(_Global(module, attr))
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                stack.append(memo[arg])
            elif name in ("BININT", "BININT1", "BININT2", "LONG1", "INT", "LONG",
                          "SHORT_BINUNICODE", "BINUNICODE", "SHORT_BINBYTES", "BINBYTES",
                          "BINUNICODE8", "BINBYTES8"):
                stack.append(arg)
            elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
                stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
            elif name == "MARK":
                stack.append(_MARK)
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name == "TUPLE":
                stack.append(tuple(_pop_mark(stack)))
            elif name == "APPEND":
                item = stack.pop()
                stack[-1].append(item)
            elif name == "APPENDS":
                items = _pop_mark(stack)
                stack[-1].extend(items)
            elif name == "REDUCE":
                args = stack.pop()
                fn = stack.pop()
                if not isinstance(fn, _Global):
                    raise ValueError("calls something that is not an allowed global")
                stack.append(_Call(fn, args))
            elif name == "BUILD":
                state = stack.pop()
                if not isinstance(stack[-1], _Call):
                    raise ValueError("BUILD on a value that is not an array")
                stack[-1].state = state
            else:
                raise ValueError(f"refuses the opcode {name}")
    except (ValueError, IndexError, KeyError) as e:
        raise ValueError(f"{where}: unexpected pickle content ({e}); only numpy object "
                         "arrays of integer lists are read.") from None
    array = stack[-1] if stack else None
    if not (isinstance(array, _Call) and array.fn.key[1] == "_reconstruct"
            and isinstance(array.state, tuple) and len(array.state) == 5
            and isinstance(array.state[4], list)):
        raise ValueError(f"{where}: the pickle stream does not hold one numpy array.")
    rows = array.state[4]
    if len(rows) != shape[0] or not all(
            isinstance(r, list) and all(type(w) is int for w in r) for r in rows):
        raise ValueError(f"{where}: expected {shape[0]} lists of integer word ids.")
    return rows
