"""Everything an HDF5 file holds, as a comparable list: the interop tests compare our
``model.weights.h5`` with Keras' group by group, attribute by attribute, byte by byte.

>>> h5_items(open(path, "rb").read())  # doctest: +SKIP
[('layers', None, None, {...}, None), ...]
"""

import io

import h5py


def h5_items(data: bytes) -> list:
    """``(path, shape, dtype, attrs, bytes)`` per group/dataset of the file ``data``."""
    items = []
    with h5py.File(io.BytesIO(data), "r") as f:
        def visit(path, obj):
            if isinstance(obj, h5py.Dataset):
                items.append((path, obj.shape, obj.dtype.str, dict(obj.attrs), obj[()].tobytes()))
            else:
                items.append((path, None, None, dict(obj.attrs), None))
        f.visititems(visit)
        items.append(("/", None, None, dict(f.attrs), None))
    return items
