"""Trainable state: a numpy array with a name, a path and a gradient buffer.

>>> import numpy as np
>>> v = Variable(np.zeros((2, 3), "float32"), name="kernel")
>>> v.shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from core import aligned


class Variable:
    """A weight owned by a layer or optimizer.

    ``value`` is always a C-contiguous numpy array that is updated *in place*
    (optimizers and ``assign`` never rebind it), so views handed out earlier
    stay valid. ``grad`` is a buffer of the same shape that the backward pass
    writes into; ``grad_step`` says in which tape step it was last written so
    that a shared layer's second use adds instead of overwriting.
    """

    __slots__ = ("value", "name", "path", "trainable", "grad", "grad_step", "regularizer",
                 "constraint", "owner", "__weakref__")

    def __init__(self, value, name: str = "variable", trainable: bool = True, path: str = "",
                 *, shape=None, dtype=None):
        # Keras' keras.Variable(initializer, shape=None, dtype=None, ...) keywords: an
        # initializer (name or callable) needs the shape; dtype casts the value.
        if isinstance(value, str) or callable(value):
            if shape is None:
                raise ValueError(f"Variable '{name}': an initializer ({value!r}) needs "
                                 "`shape`.")
            from core import backend, initializers

            dt = backend.standardize_dtype(dtype or backend.floatx())
            value = initializers.get(value)(tuple(shape), dtype=dt)
        elif shape is not None and tuple(np.shape(value)) != tuple(shape):
            raise ValueError(f"Variable '{name}': initial value has shape "
                             f"{np.shape(value)}, but shape={tuple(shape)} was given.")
        if dtype is not None:
            from core import backend

            value = np.asarray(value, dtype=backend.standardize_dtype(dtype))
        # A copy of its own, C-contiguous and cache-line aligned (core.aligned: the
        # kernels that update weights and slots run at the same speed in every
        # process); 0-d values (an optimizer's iteration counter) keep their rank.
        self.value = aligned.copy(value)
        self.name = name
        self.path = path or name
        self.trainable = bool(trainable)
        self.grad: np.ndarray | None = None
        self.grad_step = -1
        self.regularizer = None  # a core.regularizers.Regularizer: training adds its penalty
        self.constraint = None  # a core.constraints.Constraint: the optimizer projects onto it
        self.owner = None  # weakref to the layer that created it (add_weight), if any

    @property
    def trains(self) -> bool:
        """Trainable and not frozen through its layer (``layer.trainable = False``):
        only such a variable makes an op record and receives a gradient from ops."""
        if not self.trainable:
            return False
        layer = self.owner() if self.owner is not None else None
        return layer is None or layer._trainable

    # numpy-ish conveniences -------------------------------------------------
    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def size(self):
        return self.value.size

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __float__(self):  # a metric's ``result()`` may return its state variable itself
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def assign(self, new_value) -> None:
        new_value = np.asarray(new_value)
        if new_value.shape != self.value.shape:
            raise ValueError(
                f"Cannot assign value of shape {new_value.shape} to variable "
                f"'{self.path}' of shape {self.value.shape}."
            )
        np.copyto(self.value, new_value, casting="unsafe")

    def assign_add(self, delta) -> None:
        """``value += delta`` in place (Keras' ``assign_add``; metrics' state updates)."""
        self.assign(self.value + np.asarray(delta))

    def assign_sub(self, delta) -> None:
        self.assign(self.value - np.asarray(delta))

    def grad_buffer(self) -> np.ndarray:
        if self.grad is None or self.grad.shape != self.value.shape or \
                self.grad.dtype != self.value.dtype:
            self.grad = aligned.zeros(self.value.shape, self.value.dtype)
        return self.grad

    # Keras variables take part in arithmetic; each operator is the core.ops op, so a
    # trainable variable used this way under a tape receives its gradient.
    def _op(name):
        def method(self, *others):
            from core import ops
            return getattr(ops, name)(self, *others)
        method.__name__ = name
        return method

    def _rop(name):
        def method(self, other):
            from core import ops
            return getattr(ops, name)(other, self)
        return method

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # ``x @ var`` / ``np.exp(var)``: under a tape the op records (with this
        # variable's gradient); otherwise plain numpy on ``.value``.
        from core.ops.dispatch import array_ufunc
        return array_ufunc(ufunc, method, inputs, kwargs)

    __add__, __radd__ = _op("add"), _rop("add")
    __sub__, __rsub__ = _op("subtract"), _rop("subtract")
    __mul__, __rmul__ = _op("multiply"), _rop("multiply")
    __truediv__, __rtruediv__ = _op("divide"), _rop("divide")
    __matmul__, __rmatmul__ = _op("matmul"), _rop("matmul")
    __pow__ = _op("power")
    __neg__ = _op("negative")
    __getitem__ = _op("getitem")
    T = property(_op("transpose"))
    del _op, _rop

    def __repr__(self):
        return f"<Variable path={self.path} shape={self.shape} dtype={self.dtype.name}>"


def write_variable_grad(var: Variable, g) -> None:
    """Store ``g`` as ``var``'s gradient for the tape step running now, adding to what an
    earlier use in the same step wrote (``Layer.write_grad``'s convention)."""
    from core.autodiff import current_grad_step
    buf = var.grad_buffer()
    step = current_grad_step()
    if var.grad_step == step:
        buf += g
    else:
        np.copyto(buf, g, casting="unsafe")
        var.grad_step = step


class VariableOwner:
    """The state a layer owns and stores itself, as Keras 3's ``Layer``: a ``Variable``
    assigned to an attribute is tracked as the layer's own weight (trainable or not, by
    its flag), and ``save_own_variables``/``load_own_variables`` are the hooks
    ``model.save``/``load_model`` call for each layer with its ``vars`` entry of
    ``model.weights.h5`` (``core.saving.weights_h5``). Override them to store more
    state, as the keras.io guide "Customizing Saving and Serialization" does.

    >>> from core.layers import Dense
    >>> d = Dense(2)
    >>> d.build((None, 3))
    >>> store = {}
    >>> d.save_own_variables(store)
    >>> sorted(store), store["0"].shape
    (['0', '1'], (3, 2))
    """

    def _track_attribute(self, key, value) -> None:
        """Keras' tracker on ``layer.attr = value``: a Variable (or a list/tuple of them)
        not yet tracked joins ``_trainable_variables`` or ``_non_trainable_variables``
        after the ones already there (Keras' order: assignment order)."""
        if key in ("_trainable_variables", "_non_trainable_variables"):
            return  # the lists themselves
        items = value if isinstance(value, (list, tuple)) else (value,)
        for var in items:
            if not isinstance(var, Variable):
                continue
            own = self._trainable_variables + self._non_trainable_variables
            if any(v is var for v in own):
                continue
            (self._trainable_variables if var.trainable else
             self._non_trainable_variables).append(var)
            if var.owner is None:
                import weakref
                var.owner = weakref.ref(self)

    # Keras' Dense, EinsumDense, Embedding and Conv1D/2D store only these attributes
    # (their ``variable_serialization_spec``), in this order, skipping a None bias, and
    # nothing before they are built; loading still checks the file holds as many entries
    # as the layer has own variables (Keras' ``_check_load_own_variables``). None: every
    # own variable (Keras' ``Layer``). Set on the class by those layers.
    serialized_variables: tuple | None = None

    def _stored_variables(self) -> list:
        own = self._trainable_variables + self._non_trainable_variables
        if self.serialized_variables is None:
            return own
        values = (getattr(self, name, None) for name in self.serialized_variables)
        return [v for v in values if v is not None]

    def save_own_variables(self, store) -> None:
        """Keras' default: own trainable then non-trainable variables as ``"0"``, ``"1"``...
        (only ``serialized_variables`` where the class names them)."""
        if self.serialized_variables is not None and not self.built:
            return
        for i, v in enumerate(self._stored_variables()):
            store[str(i)] = v

    def load_own_variables(self, store) -> None:
        """Keras' default: the variables back from ``"0"``, ``"1"``...; the count and
        every shape are checked before any is assigned (ValueError naming the layer)."""
        own = self._trainable_variables + self._non_trainable_variables
        keys = list(store.keys())
        if len(keys) != len(own):
            raise ValueError(f"layer '{self.name}' expects {len(own)} weights "
                             f"{[v.name for v in own]}, file has {len(keys)}")
        if self.serialized_variables is not None and not self.built:
            return
        targets = self._stored_variables()
        values = []
        for i, var in enumerate(targets):
            if str(i) not in store:
                raise ValueError(f"layer '{self.name}': weight {i} ('{var.name}') is "
                                 "missing")
            value = np.asarray(store[str(i)])
            if value.shape != var.shape:
                raise ValueError(f"layer '{self.name}' expects weight {i} ('{var.name}') "
                                 f"of shape {tuple(var.shape)}, file has {value.shape}")
            values.append(value)
        for var, value in zip(targets, values):
            var.assign(value)
