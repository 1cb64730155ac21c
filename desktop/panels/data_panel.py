"""The Data panel: choose the training data, see what it holds, fit the network to it.

Sources: the embedded sample (default, offline), MNIST, Fashion-MNIST, or the user's
own file (``.npz`` with x/y arrays, CSV with a label column, IDX images + labels).
Reading happens on a ``QThreadPool`` thread; the panel shows sample count, sample
shape, class count and example images. A file that cannot be read is refused
with the reason and nothing in the project changes; data whose shape does not fit
the network is held back (not used for training) until the user clicks "Fit
network to data", which sets the Input shape and the last Dense's units in ONE
undo command.

>>> panel = DataPanel(get_document=lambda: doc, undo_stack=stack)   # doctest: +SKIP
>>> panel.load(DataSpec(kind="sample"))                             # doctest: +SKIP
>>> panel.dataset.num_classes                                       # doctest: +SKIP
10
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.editor.commands import DocCommand, push_checked
from desktop.panels.results import image_pixmap
from desktop.training.controller import StartRefused, input_and_output_nodes
from desktop.training.data_source import (
    KIND_LABELS,
    KINDS,
    DataError,
    DataSpec,
    load_dataset,
    prepare,
)

EXAMPLES = 18
EXAMPLE_COLUMNS = 6


class FitNetworkToDataCommand(DocCommand):
    """Input shape and output units from the data, as one undo step."""

    def __init__(self, doc, input_id, shape, output_id, units):
        super().__init__(doc, "Fit network to data")
        self.input_id, self.shape = input_id, [int(d) for d in shape]
        self.output_id, self.units = output_id, units
        self.old_shape = self.old_units = None

    def _do(self):
        with self.doc.batch():  # both or neither
            self.old_shape = self.doc.fix_input_shape_from_data(self.shape, self.input_id)
            if self.units is not None:
                self.old_units = self.doc.set_config(self.output_id, "units", self.units)

    def _undo(self):
        with self.doc.batch():
            if self.units is not None:
                self.doc.set_config(self.output_id, "units", self.old_units)
            self.doc.set_config(self.input_id, "shape", self.old_shape)


class _LoadSignals(QObject):
    done = Signal(int, object, object)  # generation, spec, Dataset or error text


class _LoadTask(QRunnable):
    def __init__(self, spec, generation, signals):
        super().__init__()
        self.spec, self.generation, self.signals = spec, generation, signals

    def run(self):
        try:
            result = load_dataset(self.spec)
        except DataError as exc:
            result = str(exc)
        except Exception as exc:  # any reader failure is a refusal with its reason
            result = f"{type(exc).__name__}: {exc}"
        self.signals.done.emit(self.generation, self.spec, result)


def spec_from_document(doc) -> DataSpec:
    name = doc.training.dataset or "sample"
    meta = doc.meta
    if name in KINDS and name != "file":
        return DataSpec(kind=name, path=str(meta.get("data_path") or ""),
                        validation_split=doc.training.validation_split)
    return DataSpec(kind="file", path=name, labels_path=str(meta.get("data_labels_path") or ""),
                    test_path=str(meta.get("data_test_path") or ""),
                    label_column=str(meta.get("data_label_column") or "-1"),
                    validation_split=doc.training.validation_split)


class DataPanel(QWidget):
    """``dataset`` is the data training uses (None until something that fits is loaded)."""

    datasetChanged = Signal(object)
    loadFinished = Signal(bool, str)  # accepted, message (tests wait on this)

    def __init__(self, get_document, undo_stack=None, parent=None, push=None):
        super().__init__(parent)
        self.setObjectName("dataPanel")
        self.get_document = get_document
        self.undo_stack = undo_stack
        self.push = push  # the window's checked route (push_edit), when there is one
        self.dataset = None      # accepted: fits the network, used for training
        self.candidate = None    # loaded but does not fit yet
        self._generation = 0
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _LoadSignals()
        self._signals.done.connect(self._on_loaded)

        self.source = QComboBox()
        self.source.setObjectName("dataSource")
        for k in KINDS:
            self.source.addItem(KIND_LABELS[k], k)
        self.path = QLineEdit()
        self.path.setObjectName("dataPath")
        self.path.setPlaceholderText("data file (.npz, .csv, IDX images)")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        self.labels_path = QLineEdit()
        self.labels_path.setPlaceholderText("IDX labels file (IDX only)")
        self.test_path = QLineEdit()
        self.test_path.setPlaceholderText("optional separate test file")
        self.label_column = QLineEdit("-1")
        self.label_column.setToolTip("CSV label column: a name from the header or an index")
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("loadDataButton")
        self.load_button.clicked.connect(lambda: self.load(self.current_spec()))
        self.fit_button = QPushButton("Fit network to data")
        self.fit_button.setObjectName("fitToDataButton")
        self.fit_button.setToolTip("Set the Input shape and the last Dense's units from the "
                                   "data (one undo step)")
        self.fit_button.clicked.connect(self.fit_network_to_data)
        self.info = QLabel("No data loaded.")
        self.info.setObjectName("dataInfo")
        self.info.setWordWrap(True)
        self.message = QLabel("")
        self.message.setObjectName("dataMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b03a2e;")
        self.examples = QWidget()
        self.examples_grid = QGridLayout(self.examples)
        self.examples_grid.setSpacing(2)

        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        self.file_box = QWidget()
        fl = self.file_form = QFormLayout(self.file_box)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addRow("File", file_row)
        fl.addRow("Labels", self.labels_path)
        fl.addRow("Test file", self.test_path)
        fl.addRow("Label column", self.label_column)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.fit_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.source)
        lay.addWidget(self.file_box)
        lay.addLayout(buttons)
        lay.addWidget(self.info)
        lay.addWidget(self.message)
        lay.addWidget(self.examples)
        lay.addStretch(1)
        self.source.currentIndexChanged.connect(lambda _i: self._source_changed())
        self._source_changed()

    # ------------------------------------------------------------------ input
    def _source_changed(self) -> None:
        kind = self.source.currentData()
        # MNIST / Fashion-MNIST take an optional local copy (mnist.npz / the IDX folder);
        # without one they look in the usual places and download like Keras.
        self.file_box.setVisible(kind != "sample")
        for row in (1, 2, 3):
            self.file_form.setRowVisible(row, kind == "file")
        self.path.setPlaceholderText({
            "file": "data file (.npz, .csv, IDX images)",
            "mnist": "optional: a local mnist.npz",
            "fashion_mnist": "optional: folder with the four Fashion-MNIST IDX files",
        }.get(kind, ""))

    def _browse(self):
        if self.source.currentData() == "fashion_mnist":
            path = QFileDialog.getExistingDirectory(self, "Folder with the Fashion-MNIST files")
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Choose a data file", "",
                "Data files (*.npz *.csv *.csv.gz *-ubyte *-ubyte.gz *.idx*);;All files (*)")
        if path:
            self.path.setText(path)

    def current_spec(self) -> DataSpec:
        doc = self.get_document()
        split = doc.training.validation_split if doc is not None else 0.1
        return DataSpec(kind=self.source.currentData(), path=self.path.text().strip(),
                        labels_path=self.labels_path.text().strip(),
                        test_path=self.test_path.text().strip(),
                        label_column=self.label_column.text().strip() or "-1",
                        validation_split=split)

    def show_spec(self, spec: DataSpec) -> None:
        self.source.setCurrentIndex(max(0, self.source.findData(spec.kind)))
        self.path.setText(spec.path)
        self.labels_path.setText(spec.labels_path)
        self.test_path.setText(spec.test_path)
        self.label_column.setText(spec.label_column)

    def load_from_document(self) -> None:
        doc = self.get_document()
        if doc is not None:
            spec = spec_from_document(doc)
            self.show_spec(spec)
            self.load(spec, remember=False)

    # ---------------------------------------------------------------- loading
    def load(self, spec: DataSpec, remember: bool = True) -> None:
        """Read ``spec`` on a pool thread; ``loadFinished`` reports the outcome."""
        self._generation += 1
        self._remember = remember
        self.load_button.setEnabled(False)
        self.info.setText(f"Loading {KIND_LABELS.get(spec.kind, spec.kind)}...")
        self.message.setText("")
        self.pool.start(_LoadTask(spec, self._generation, self._signals))

    def _on_loaded(self, generation, spec, result):
        if generation != self._generation:
            return  # a newer load was started; this one is stale
        self.load_button.setEnabled(True)
        if isinstance(result, str):
            # Text, thumbnails and 'Fit network' must all describe the SAME data: drop a
            # held-back candidate from an earlier load and show the accepted set again.
            self.candidate = None
            self._show_examples(self.dataset)
            self.info.setText("Data not loaded." if self.dataset is None else self._describe(
                self.dataset))
            self._refuse(f"Refused: {result}")
            return
        self.candidate = (spec, result)
        self._show_examples(result)
        reason = self.fit_problem(result)
        self.info.setText(self._describe(result))
        if reason is not None:
            self._refuse(f"This data does not fit the network: {reason} "
                         "Click 'Fit network to data' to adapt the network, or choose "
                         "other data.")
            return
        self._accept(spec, result)

    def _refuse(self, text: str) -> None:
        self.message.setText(text)
        self.loadFinished.emit(False, text)

    def _accept(self, spec, ds) -> None:
        doc = self.get_document()
        self.dataset, self.candidate = ds, None
        if doc is not None:
            if getattr(self, "_remember", True):
                self._remember_spec(doc, spec)
            doc.set_data_info(ds.suggested_input_shape(), ds.num_classes)
        self.message.setText("")
        self.datasetChanged.emit(ds)
        self.loadFinished.emit(True, self._describe(ds))

    def _remember_spec(self, doc, spec: DataSpec) -> None:
        from desktop.training.settings_form import SetTrainingCommand

        name = spec.path if spec.kind == "file" else spec.kind
        if doc.training.dataset != name:
            cmd = SetTrainingCommand(doc, {"dataset": name})
            if self.push is not None:
                self.push(cmd)
            elif self.undo_stack is not None:
                push_checked(self.undo_stack, cmd)
            else:
                cmd.do_first()
        if spec.kind == "file":
            doc.set_meta(data_labels_path=spec.labels_path, data_test_path=spec.test_path,
                         data_label_column=spec.label_column)
        elif spec.kind != "sample" and (doc.meta.get("data_path") or "") != spec.path:
            doc.set_meta(data_path=spec.path)

    @staticmethod
    def _describe(ds) -> str:
        test = f", {len(ds.x_test):,} test" if ds.x_test is not None else ", no test set " \
            "(results use the validation split)"
        return (f"<b>{ds.name}</b>: {len(ds.x_train):,} training samples{test}; "
                f"sample shape {ds.sample_shape} (network input {ds.suggested_input_shape()}), "
                f"{ds.num_classes} classes, dtype {ds.x_train.dtype}.")

    def fit_problem(self, ds) -> str | None:
        """Why ``ds`` cannot train the current network, or None when it fits."""
        doc = self.get_document()
        if doc is None:
            return None
        try:
            in_id, out_id = input_and_output_nodes(doc)
        except StartRefused:
            return None  # an unfinished network: nothing to check against yet
        in_shape = doc.state(in_id).output_shape
        out_shape = doc.state(out_id).output_shape
        if in_shape is None or out_shape is None:
            return None  # the network itself has errors; the problems list says which
        try:
            n = min(len(ds.x_train), 8)  # a few rows are enough to check shapes/labels
            small = dataclasses.replace(ds, x_train=ds.x_train[:n], x_test=None, y_test=None)
            prepare(small, tuple(in_shape[1:]), int(out_shape[-1]), doc.training.loss, 0.0)
        except DataError as exc:
            return str(exc)
        return None

    # ----------------------------------------------------------- fit network
    def fit_network_to_data(self) -> str | None:
        """One undo command: Input shape and output Dense units from the loaded data."""
        doc = self.get_document()
        pending = self.candidate or ((None, self.dataset) if self.dataset is not None else None)
        if doc is None or pending is None:
            return "Load data first."
        spec, ds = pending
        try:
            in_id, out_id = input_and_output_nodes(doc)
        except StartRefused as exc:
            self.message.setText(str(exc))
            return str(exc)
        out_node = doc.nodes[out_id]
        units = None
        if out_node.type == "Dense" and doc.training.loss.endswith("categorical_crossentropy"):
            if out_node.config.get("units") != ds.num_classes:
                units = ds.num_classes
        cmd = FitNetworkToDataCommand(doc, in_id, ds.suggested_input_shape(), out_id, units)
        if self.push is not None:
            reason = self.push(cmd)
        elif self.undo_stack is not None:
            reason = push_checked(self.undo_stack, cmd)
        else:
            try:
                cmd.do_first()
                reason = None
            except ValueError as exc:
                reason = str(exc)
        if reason:
            self.message.setText(f"Cannot fit the network to the data: {reason}")
            return reason
        if spec is not None and self.fit_problem(ds) is None:
            self._accept(spec, ds)
        self.info.setText(self._describe(ds))
        return None

    # --------------------------------------------------------------- examples
    def _show_examples(self, ds) -> None:
        while self.examples_grid.count():
            w = self.examples_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if ds is None or not ds.is_image:
            return
        from desktop.training.data_source import scale_inputs

        names = ds.class_names
        for i in range(min(EXAMPLES, len(ds.x_train))):
            pic = QLabel()
            pm = image_pixmap(scale_inputs(ds.x_train[i]), size=36)
            if pm is not None:
                pic.setPixmap(pm)
            k = int(ds.y_train[i])
            pic.setToolTip(f"label {names[k] if k < len(names) else k}")
            self.examples_grid.addWidget(pic, i // EXAMPLE_COLUMNS, i % EXAMPLE_COLUMNS)

    def shutdown(self) -> None:
        self._generation += 1
        self.pool.waitForDone(10000)

