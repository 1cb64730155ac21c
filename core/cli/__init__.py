"""Headless command line: ``netweaver train|evaluate|predict|export|summary|plot PROJECT``.

Qt-free; ``desktop.app.main`` hands every sub-command except ``open`` to ``run``.
PROJECT is a ``.nwproj``; all commands but ``train`` also take a Keras model file
(``.keras``, legacy ``.h5``). ``train`` adds the run to the project's history (the
app shows it as an earlier run) and saves the weights into the project; it runs the
app's session code (``core.session``: every Input fed by name, float targets trained as
a regression, the test results that fit the task kept with the run).
Exit codes: 0 success, 1 the command failed, 2 bad usage (argparse), 3 the project is
missing or corrupt. Errors are one line on stderr; ``--debug`` shows the traceback.

>>> run(["summary", "resources/examples/mnist_mlp.nwproj"])       # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

import numpy as np

COMMANDS = ("train", "evaluate", "predict", "export", "summary", "plot")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROJECT = 0, 1, 2, 3
FORMATS = {"keras": ".keras", "onnx": ".onnx", "py": ".py", "h5-weights": ".weights.h5"}


class ProjectError(Exception):
    """The project file is missing or cannot be read."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netweaver", description="Netweaver without the window.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, help_text):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("project", help="a .nwproj project (or, except for train, a Keras "
                       ".keras / .h5 model file)")
        s.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
        return s

    t = add("train", "train the project's model and save the weights into the project")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--data", help=".npz with x_train, y_train (and x_test, y_test)")
    t.add_argument("--out", help="folder for the trained model.keras (default: none)")
    e = add("evaluate", "loss and metrics on the test split")
    e.add_argument("--data")
    pr = add("predict", "predictions for x_test (or x) of --data, to .csv or .npz")
    pr.add_argument("--data")
    pr.add_argument("--out", required=True, help="predictions file (.csv or .npz)")
    x = add("export", "write the model in another format")
    x.add_argument("--format", required=True, choices=sorted(FORMATS))
    x.add_argument("--out", required=True, help="the file to write")
    add("summary", "print the model summary")
    pl = add("plot", "draw the model as SVG or PNG (no graphviz needed)")
    pl.add_argument("--out", required=True, help="the picture (.svg or .png)")
    pl.add_argument("--show-shapes", action="store_true")
    pl.add_argument("--show-layer-names", action="store_true")
    pl.add_argument("--show-dtype", action="store_true")
    pl.add_argument("--show-layer-activations", action="store_true")
    pl.add_argument("--show-trainable", action="store_true")
    pl.add_argument("--expand-nested", action="store_true")
    pl.add_argument("--rankdir", choices=("TB", "LR"), default="TB")
    pl.add_argument("--dpi", type=int, default=96)
    return p


def _load(path, command="summary"):
    from core.graph.build import apply_weights, build_model
    from core.graph.open_model import is_model_file
    from core.graph.project_file import load_project
    if not Path(path).is_file():
        raise ProjectError(f"{path}: no such project file")
    if is_model_file(path):
        return _load_model_file(path, command)
    try:
        doc, weights = load_project(path)
        model = build_model(doc)
    except Exception as exc:  # any reading or building failure is "corrupt project" here
        raise ProjectError(f"{path}: {str(exc).splitlines()[0]}") from exc
    if weights:
        apply_weights(model, weights)
    s = doc.training
    model.compile(optimizer=s.optimizer, loss=s.loss, metrics=list(s.metrics))
    model.optimizer.learning_rate = s.learning_rate
    return doc, model


def _load_model_file(path, command):
    from core.graph.open_model import open_model_file
    from core.saving import load_model
    if command == "train":
        raise ProjectError(f"{path}: train needs a project to keep the run in; open the "
                           "model in the app (or `netweaver open`) and save it as .nwproj")
    from core.graph import GraphDocument
    from core.graph.datatypes import GraphError
    from core.graph.open_model import UnsupportedLayersError
    try:
        try:
            doc, _notes = open_model_file(path)
        except UnsupportedLayersError:
            raise
        except GraphError as exc:  # the canvas cannot show it; the model itself is fine
            print(f"note: {str(exc).splitlines()[0]}", file=sys.stderr)
            doc = GraphDocument()
            doc.meta["name"] = Path(path).stem
        model = load_model(path)  # the file's own compile settings, exactly
    except Exception as exc:
        raise ProjectError(f"{path}: {str(exc).splitlines()[0]}") from exc
    return doc, model


def _fit_to_inputs(model, x):
    x = np.asarray(x, np.float32)
    if x.max(initial=0) > 1.5:  # raw pixels, as the built-in data sets ship them
        x = x / 255.0
    return x.reshape((len(x), *model.inputs[0].shape[1:]))


def _data(doc, model, data_file):
    if data_file:
        with np.load(data_file, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    elif doc.training.dataset == "sample":
        from core.datasets.sample import load_sample
        (xt, yt), (xv, yv) = load_sample()
        arrays = {"x_train": xt, "y_train": yt, "x_test": xv, "y_test": yv}
    else:
        raise ValueError(f"data set {doc.training.dataset!r}: pass --data FILE.npz "
                         "(x_train, y_train, x_test, y_test)")
    if len(model.inputs) != 1:
        raise ValueError("models with several inputs need code, not the CLI, to train")
    out = {}
    for k, v in arrays.items():
        out[k] = _fit_to_inputs(model, v) if k.startswith("x") else v
    return out


def _dataset(doc, data_file):
    """The data of ``train`` as the app's ``Dataset``: ``x_train``/``y_train`` (and
    ``x_test``/``y_test``) of the file or the embedded sample; an array named after an
    Input node (``NAME``, ``NAME_test``) feeds that Input; float targets that are not
    whole numbers make it a regression."""
    from types import SimpleNamespace  # the fields of the app's Dataset that training reads

    if data_file:
        with np.load(data_file, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        name = Path(data_file).name
    elif doc.training.dataset == "sample":
        from core.datasets.sample import load_sample
        (xt, yt), (xv, yv) = load_sample()
        arrays, name = {"x_train": xt, "y_train": yt, "x_test": xv, "y_test": yv}, "sample"
    else:
        raise ValueError(f"data set {doc.training.dataset!r}: pass --data FILE.npz "
                         "(x_train, y_train, x_test, y_test)")
    for key in ("x_train", "y_train"):
        if key not in arrays:
            raise ValueError(f"{name}: no array {key!r} (it has {sorted(arrays)})")
    y = np.asarray(arrays["y_train"])
    regression = np.issubdtype(y.dtype, np.floating) and not np.all(np.mod(y, 1) == 0)
    extra = {k: (v, arrays.get(k + "_test")) for k, v in arrays.items()
             if not k.startswith(("x_", "y_")) and not k.endswith("_test")}
    return SimpleNamespace(name=name, x_train=arrays["x_train"], y_train=y,
                           x_test=arrays.get("x_test"), y_test=arrays.get("y_test"),
                           task="regression" if regression else "classification",
                           extra_inputs=extra)


def _cmd_train(args, doc, model):
    """The app's session code (``core.session``): the data mapped onto every Input and
    output by name, the same compile and the same task-fitting results."""
    import time

    from core.graph.build import model_weights
    from core.graph.project_file import save_project
    from core.graph.run_history import finish_run, start_run
    from core.graph.run_states import keep_run, network_of
    from core.session.run_setup import plan_run
    from core.session.task_results import compute_results, run_summary

    kept = doc.training  # --epochs/--batch-size are for this run, not saved as settings
    doc.training = kept.replaced(**{k: v for k, v in (("epochs", args.epochs),
                                                      ("batch_size", args.batch_size)) if v})
    ds = _dataset(doc, args.data)
    plan = plan_run(doc, ds)  # a RunRefused names the Input/output and both shapes
    plan.model.set_weights(model.get_weights())  # the project's weights, if any
    p = plan.make_data()
    s = doc.training
    kwargs = dict(plan.fit_kwargs)
    if p.x_test is not None:  # a test set is the validation data, as before
        kwargs.pop("validation_split", None)
        kwargs["validation_data"] = (p.x_test, p.y_test)
    run = start_run(doc, ds.name if args.data else s.dataset, resumed=bool(doc.weights))
    t0 = time.perf_counter()
    history = plan.model.fit(p.x_train, p.y_train, epochs=s.epochs, verbose=1, **kwargs)
    seconds = time.perf_counter() - t0
    final = {k: v[-1] for k, v in history.history.items()}
    print("final: " + "  ".join(f"{k}={v:.4f}" for k, v in final.items()))
    epochs = len(next(iter(history.history.values()), []))
    n = len(next(iter(p.x_train.values()))) if isinstance(p.x_train, dict) else len(p.x_train)
    finish_run(doc, run, history.history, seconds, samples=n * epochs)
    res = compute_results(plan.model, p)
    if res is not None:
        run["test"] = run_summary(res)
        print(_results_line(run["test"]))
    doc.training = kept
    weights = model_weights(plan.model)
    keep_run(doc, run["name"], network_of(doc), weights)  # the app can restore this run
    save_project(doc, args.project, weights=weights)
    print(f"{run['name']} saved in {args.project}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plan.model.save(str(Path(args.out) / "model.keras"))


def _results_line(t: dict) -> str:
    """``Test set (1000): accuracy 0.9120 (majority class 0.1135)`` or the MAE line."""
    head = f"{t['source']} ({t['count']}): "
    if t.get("accuracy") is not None:
        return head + f"accuracy {t['accuracy']:.4f} (majority class " \
            f"{t.get('majority_accuracy', float('nan')):.4f})"
    if t.get("reconstruction"):  # an autoencoder (target: the input itself)
        return head + f"reconstruction MSE {t['reconstruction']['mean_squared_error']:.4g}" \
            f" (mean image {t.get('mean_image', {}).get('mean_squared_error', float('nan')):.4g})"
    reg, base = t.get("regression") or {}, t.get("baseline")
    line = head + f"MAE {reg.get('mean_absolute_error', float('nan')):.4g}"
    if base:
        line += f" (naive last-value MAE {base['mean_absolute_error']:.4g})"
    return line


def _cmd_evaluate(args, doc, model):
    d = _data(doc, model, args.data)
    result = model.evaluate(d["x_test"], d["y_test"], verbose=0, return_dict=True)
    print("  ".join(f"{k}={v:.4f}" for k, v in result.items()))


def _cmd_predict(args, doc, model):
    d = _data(doc, model, args.data)
    x = d.get("x_test", d.get("x"))
    if x is None:
        raise ValueError("--data needs x_test or x")
    pred = np.asarray(model.predict(x, verbose=0))
    out = Path(args.out)
    if out.suffix == ".npz":
        np.savez(out, predictions=pred)
    elif out.suffix == ".csv":
        np.savetxt(out, pred.reshape(len(pred), -1), delimiter=",", fmt="%.7g")
    else:
        raise ValueError(f"{out}: predictions go to .csv or .npz")
    print(f"wrote {len(pred)} predictions to {out}")


def _cmd_export(args, doc, model):
    out = args.out
    if args.format == "keras":
        model.save(out)
    elif args.format == "onnx":
        model.export(out, format="onnx")
    elif args.format == "py":
        from core.export.keras_code import export_keras_code
        export_keras_code(model, out, weights=True)
    else:
        model.save_weights(out)
    print(f"wrote {out}")


def _cmd_summary(args, doc, model):
    model.summary()


def _cmd_plot(args, doc, model):
    from core.utils import plot_model
    plot_model(model, args.out, show_shapes=args.show_shapes, show_dtype=args.show_dtype,
               show_layer_names=args.show_layer_names, rankdir=args.rankdir,
               expand_nested=args.expand_nested, dpi=args.dpi,
               show_layer_activations=args.show_layer_activations,
               show_trainable=args.show_trainable)
    print(f"wrote {args.out}")


def run(argv) -> int:
    args = parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        doc, model = _load(args.project, args.command)
        globals()[f"_cmd_{args.command}"](args, doc, model)
        return EXIT_OK
    except ProjectError as exc:
        print(f"netweaver: {exc}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_PROJECT
    except Exception as exc:
        print(f"netweaver {args.command}: {type(exc).__name__}: {exc}".splitlines()[0],
              file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_FAILED


def main(argv=None) -> int:
    return run(sys.argv[1:] if argv is None else argv)
