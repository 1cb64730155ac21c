"""Everything a run needs before ``fit``, from a document and a loaded data set (no Qt).

``plan_run(doc, ds)`` checks the data against every Input and output on a few rows (the
full conversion is ``plan.make_data()``, for a worker thread), checks memory, builds
and compiles the model: one loss string from the settings becomes a loss per output
(``{output name: loss}`` with equal ``loss_weights``) and the settings' metrics are
computed for each output. Refusals are ``RunRefused`` with the reason; nothing changed.

>>> plan = plan_run(doc, ds)                  # doctest: +SKIP
>>> prepared = plan.make_data()               # doctest: +SKIP
>>> plan.model.fit(prepared.x_train, prepared.y_train, **plan.fit_kwargs)   # doctest: +SKIP
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from core.graph.memory import available_memory, estimate_training_memory, fmt_bytes
from core.session.network_data import NetworkDataError, prepare_network
from core.session.ports import network_ports


class RunRefused(Exception):
    """Training cannot start; the message says why."""


@dataclass
class RunPlan:
    model: object
    make_data: object        # () -> Prepared (slow on big sets: call it off the GUI thread)
    inputs: list
    outputs: list
    task: str
    fit_kwargs: dict
    estimate: object

    @property
    def input_shape(self) -> tuple:
        """The first Input's shape (what the test pad draws for)."""
        return self.inputs[0].shape

    def inputs_from_first(self, x: np.ndarray):
        """What ``model.predict`` takes for samples ``x`` of the first Input: ``x`` itself,
        or a dict with the other Inputs computed from it (``DERIVED``, e.g. the Two
        Input template's ``ink_bands``); ValueError when another Input needs own data."""
        if len(self.inputs) == 1:
            return x
        from core.session.derived_inputs import DERIVED

        out = {self.inputs[0].name: x}
        for port in self.inputs[1:]:
            if port.name not in DERIVED or len(port.shape or ()) != 1:
                raise ValueError(f"Input '{port.name}' needs its own data; only "
                                 f"'{self.inputs[0].name}' can be given here.")
            out[port.name] = DERIVED[port.name](x, port.shape[0])
        return out


class FirstInputModel:
    """``model`` seen as taking the first Input only (the test pad draws one image): the
    other Inputs are computed by ``plan.inputs_from_first`` before ``predict``."""

    def __init__(self, model, plan: RunPlan):
        self.model, self.plan = model, plan

    def predict(self, x, verbose=0, **kwargs):
        return self.model.predict(self.plan.inputs_from_first(x), verbose=verbose, **kwargs)


def compile_arguments(loss: str, metrics, output_names) -> dict:
    """``loss``/``loss_weights``/``metrics`` for ``compile``: plain for one output, a dict
    per output name for several (Keras would otherwise want a list of metric lists)."""
    metrics = list(metrics or ())
    if len(output_names) <= 1:
        return {"loss": loss, "metrics": metrics}
    return {"loss": {n: loss for n in output_names},
            "loss_weights": {n: 1.0 for n in output_names},
            "metrics": {n: list(metrics) for n in output_names}}


def _few(ds, n=4):
    """The data set cut to ``n`` samples, every field kept (for the cheap fit check)."""
    extra = {k: (tr[:n], None if te is None else te[:n])
             for k, (tr, te) in (getattr(ds, "extra_inputs", None) or {}).items()}
    cut = {"x_train": ds.x_train[:n], "y_train": ds.y_train[:n],
           "x_test": None if ds.x_test is None else ds.x_test[:n],
           "y_test": None if ds.y_test is None else ds.y_test[:n]}
    if extra:
        cut["extra_inputs"] = extra
    few = copy.copy(ds)  # the app's Dataset or any object with its fields (the CLI's)
    for k, v in cut.items():
        setattr(few, k, v)
    return few


def plan_run(doc, ds) -> RunPlan:
    from core import optimizers
    from core.graph.datatypes import GraphError

    s = doc.training
    inputs, outputs = network_ports(doc)
    if not inputs or not outputs:
        raise RunRefused("Training needs an Input node wired to an output layer.")
    if any(p.shape is None for p in inputs + outputs):
        raise RunRefused("The network has errors; fix the problems list first.")
    try:  # a few rows here; the worker converts the whole set
        few = prepare_network(_few(ds), inputs, outputs, s.loss, s.validation_split,
                              s.target)
    except NetworkDataError as exc:
        raise RunRefused(str(exc)) from None

    def make_data():
        return prepare_network(ds, inputs, outputs, s.loss, s.validation_split, s.target)

    # Memory first, from the document's shape inference: refuse before building anything.
    states = [doc.state(n) for n in doc.nodes]
    params = sum(st.param_count or 0 for st in states)
    sizes = [int(np.prod(st.output_shape[1:])) for st in states if st.output_shape is not None]
    per_sample = 4 * sum(int(np.prod(p.shape)) for p in inputs)
    data_bytes = per_sample * (len(ds.x_train) + (len(ds.x_test) if ds.x_test is not None
                                                  else 0))
    est = estimate_training_memory(params, sizes, s.batch_size, s.optimizer, data_bytes)
    avail = available_memory()
    if avail is not None and est.total > avail:
        raise RunRefused(f"Training with batch size {s.batch_size} needs about "
                         f"{est.describe()}, but only {fmt_bytes(avail)} is available. "
                         "Lower the batch size or make the network smaller.")
    if s.seed is not None:
        from core import utils
        utils.set_random_seed(int(s.seed))
    try:
        model = doc.build_model()
    except (GraphError, ValueError) as exc:
        raise RunRefused(f"Cannot build the model: {exc}") from None
    try:
        opt = optimizers.get(s.optimizer)
        opt.learning_rate = float(s.learning_rate)
        model.compile(optimizer=opt, **compile_arguments(s.loss, s.metrics,
                                                         list(model.output_names)))
    except ValueError as exc:  # unknown optimizer/loss/metric name: the engine says which
        raise RunRefused(f"Cannot compile the model: {exc}") from None
    fit_kwargs = {"batch_size": s.batch_size, "shuffle": s.shuffle}
    if s.validation_split > 0:
        fit_kwargs["validation_split"] = s.validation_split
    if s.class_weight == "balanced" and few.task == "classification" and len(outputs) == 1:
        from core.graph.settings import balanced_class_weight

        fit_kwargs["class_weight"] = balanced_class_weight(ds.y_train)
    return RunPlan(model, make_data, inputs, outputs, few.task, fit_kwargs, est)
