"""Headless command line: ``netweaver train|evaluate|predict|export|summary|plot PROJECT``.

Qt-free; ``desktop.app.main`` hands every sub-command except ``open`` to ``run``.
PROJECT is a ``.nwproj``; all commands but ``train`` also take a Keras model file
(``.keras``, legacy ``.h5``). ``train`` adds the run to the project's history (the
app shows it as an earlier run) and saves the weights into the project; it runs the
app's session code (``core.session``: every Input fed by name, float targets trained as
a regression, the test results that fit the task kept with the run).
Without ``--data`` a project trains, evaluates and predicts on the data set it names,
loaded as the app's data panel loads it (``core.cli.data``): every shipped template runs.
Exit codes: 0 success, 1 the command failed, 2 bad usage (argparse), 3 the project is
missing or corrupt, 4 the data is missing or unreadable; a run the loss turned NaN/inf is
saved with its last good weights and exits 1. Errors are one line on stderr; ``--debug``
shows the traceback.

>>> run(["summary", "resources/examples/mnist_mlp.nwproj"])       # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

import numpy as np

from core.cli.data import DataMissing, file_arrays, held_out, in_data_units, train_dataset

COMMANDS = ("train", "evaluate", "predict", "export", "summary", "plot")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROJECT, EXIT_DATA = 0, 1, 2, 3, 4
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
    t.add_argument("--data", help=".npz with x_train, y_train (and x_test, y_test); "
                   "default: the data set the project names, as the app loads it")
    t.add_argument("--out", help="folder for the trained model.keras (default: none)")
    held = ("default: the project's held-out data (its test set, else the validation "
            "part), as the app's results use it")
    e = add("evaluate", "loss and metrics on held-out data")
    e.add_argument("--data", help=".npz with x_test, y_test; " + held)
    pr = add("predict", "predictions for held-out data, to .csv or .npz")
    pr.add_argument("--data", help=".npz with x_test (or x); " + held)
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


def _cmd_train(args, doc, model):
    """The app's session code (``core.session``): the project's own data set (or
    ``--data``) mapped onto every Input and output by name, the same compile, callbacks,
    NaN guard, results and run record; the run goes into the project."""
    from core.graph.build import model_weights
    from core.graph.curve_diagnosis import diagnose
    from core.graph.project_file import save_project
    from core.graph.run_history import start_run
    from core.graph.run_states import keep_run, network_of
    from core.session.job import TrainingJob
    from core.session.run_setup import plan_run
    from core.session.training_run import complete_run, end_message, run_job, settings_callbacks

    kept = doc.training  # --epochs/--batch-size are for this run, not saved as settings
    doc.training = kept.replaced(**{k: v for k, v in (("epochs", args.epochs),
                                                      ("batch_size", args.batch_size)) if v})
    ds = train_dataset(doc, args.data)
    plan = plan_run(doc, ds)  # a RunRefused names the Input/output and both shapes
    plan.model.set_weights(model.get_weights())  # the project's weights, if any
    s = doc.training
    job = TrainingJob(plan.model, epochs=s.epochs, batch_size=s.batch_size)
    run = start_run(doc, ds.name, resumed=bool(doc.weights))
    p = plan.make_data()
    result = run_job(job, p, dict(plan.fit_kwargs, callbacks=settings_callbacks(s)), verbose=1)
    run["epochs"] = [ev["logs"] for kind, ev in job.drain() if kind == "epoch"]
    if run["epochs"]:
        print("final: " + "  ".join(f"{k}={v:.4f}" for k, v in run["epochs"][-1].items()))
    seconds = result["train_seconds"]
    samples = len(ds.x_train) * result["epochs_done"]
    complete_run(run, result, samples / seconds if seconds > 0 else 0.0)
    found = diagnose(run["epochs"], p.num_classes or None, s.learning_rate,
                     result.get("nan_at"))
    run["diagnoses"] = [d.message for d in found]  # as the app keeps them
    if run.get("test"):
        print(_results_line(run["test"]))
    for message in run["diagnoses"]:
        print(f"note: {message}")
    doc.training = kept
    doc.add_run(run)
    weights = model_weights(plan.model)
    keep_run(doc, run["name"], network_of(doc), weights)  # the app can restore this run
    save_project(doc, args.project, weights=weights)
    print(f"{run['name']} saved in {args.project}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plan.model.save(str(Path(args.out) / "model.keras"))
    if result.get("nan_at"):  # kept and saved (the app shows the run), but not a success
        print(f"netweaver train: {end_message(result)}", file=sys.stderr)
        return EXIT_FAILED
    print(end_message(result))
    return EXIT_OK


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


def _eval_data(args, doc, model):
    """``(x, y, prepared or None)``: a project's own held-out data (as its results after
    training), else ``--data`` / the embedded sample fitted to a model file."""
    from core.graph.open_model import is_model_file

    if args.data is None and not is_model_file(args.project):
        return held_out(doc, None)
    d = file_arrays(doc, model, args.data)
    return d.get("x_test", d.get("x")), d.get("y_test"), None


def _cmd_evaluate(args, doc, model):
    x, y, _ = _eval_data(args, doc, model)
    if y is None:
        raise DataMissing("--data needs x_test and y_test to evaluate")
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    print("  ".join(f"{k}={v:.4f}" for k, v in result.items()))


def _cmd_predict(args, doc, model):
    x, _, p = _eval_data(args, doc, model)
    if x is None:
        raise DataMissing("--data needs x_test or x")
    pred = np.asarray(model.predict(x, verbose=0))
    if p is not None:  # a forecaster's predictions in the data's own units
        pred = in_data_units(pred, p)
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
        code = globals()[f"_cmd_{args.command}"](args, doc, model)
        return EXIT_OK if code is None else code
    except ProjectError as exc:
        print(f"netweaver: {exc}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_PROJECT
    except DataMissing as exc:
        print(f"netweaver {args.command}: no data: {exc}".splitlines()[0], file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_DATA
    except Exception as exc:
        print(f"netweaver {args.command}: {type(exc).__name__}: {exc}".splitlines()[0],
              file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_FAILED


def main(argv=None) -> int:
    return run(sys.argv[1:] if argv is None else argv)
