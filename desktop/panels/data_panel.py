"""The Data panel: choose the training data, see what it holds, fit the network to it.

Sources: the embedded sample (default, offline), MNIST, Fashion-MNIST, the user's own
file (``.npz`` with x/y arrays, CSV with a label column, IDX images + labels), and the
user's own data with choices (``core.session.own_data``): an image folder with one
sub-folder per class, a CSV table with a column picker, a text CSV (the vocabulary
built is shown: size, coverage, token-count histogram) and a time-series CSV (plotted,
split by time). Reading happens on a ``QThreadPool`` thread; the panel shows sample
count, sample shape, class count and example images, and sends the data problems it
found to the Problems list. A file that cannot be read is refused with the reason and
nothing in the project or the panel changes; data whose shape does not fit
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

from core.session.data_source import (
    KIND_LABELS,
    KINDS,
    OWN_KINDS,
    DataError,
    DataSpec,
    prepare,
)
from core.session.ports import PortError, input_and_output_nodes
from core.session.project_data import dataset_name, spec_from_document, spec_meta
from desktop.panels.data_columns import OwnDataOptions
from desktop.panels.data_edits import (
    FitNetworkToDataCommand,
    SetDataSourceCommand,
    push_edit,
)
from desktop.panels.data_views import SeriesView, VocabularyView, describe_dataset
from desktop.panels.results import image_pixmap
from desktop.panels.target_choice import TargetChoice

EXAMPLES = 18
EXAMPLE_COLUMNS = 6
CSV_KINDS = ("table", "text", "series")
__all__ = ["DataPanel", "FitNetworkToDataCommand", "spec_from_document"]


class _LoadSignals(QObject):
    done = Signal(int, object, object)  # generation, spec, Dataset or error text


class _LoadTask(QRunnable):
    def __init__(self, spec, generation, signals):
        super().__init__()
        self.spec, self.generation, self.signals = spec, generation, signals

    def run(self):
        from core.session.own_data import load_any

        try:
            result = load_any(self.spec)  # (Dataset, details the panel shows)
        except DataError as exc:
            result = str(exc)
        except Exception as exc:  # any reader failure is a refusal with its reason
            result = f"{type(exc).__name__}: {exc}"
        self.signals.done.emit(self.generation, self.spec, result)


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
        self.details: dict = {}  # what the panel shows about ``dataset`` (vocabulary...)
        self.candidate = None    # (spec, Dataset, details): loaded but does not fit yet
        self._generation = 0
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _LoadSignals()
        self._signals.done.connect(self._on_loaded)

        self.source = QComboBox()
        self.source.setObjectName("dataSource")
        # the longest source name must not set the left column's width (it squeezed the
        # Summary dock below its table): the closed combo elides, the list shows it all
        self.source.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(14)
        for k in KINDS:
            self.source.addItem(KIND_LABELS[k], k)
        self.path = QLineEdit()
        self.path.setObjectName("dataPath")
        self.path.editingFinished.connect(self._path_edited)
        self.browse = QPushButton("Browse...")
        self.browse.setObjectName("browseData")
        self.browse.clicked.connect(self._browse)
        self.labels_path = QLineEdit()
        self.labels_path.setPlaceholderText("IDX labels file (IDX only)")
        self.test_path = QLineEdit()
        self.test_path.setPlaceholderText("optional separate test file")
        self.label_column = QLineEdit("-1")
        self.label_column.setToolTip("CSV label column: a name from the header or an index")
        self.options = OwnDataOptions()
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
        self.warnings = QLabel("")
        self.warnings.setObjectName("dataWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #e3b341;")
        self.examples = QWidget()
        self.examples_grid = QGridLayout(self.examples)
        self.examples_grid.setSpacing(2)
        self.vocabulary_view = VocabularyView()
        self.series_view = SeriesView()

        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(self.browse)
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
        for w in (self.source, self.file_box, self.options):
            lay.addWidget(w)
        lay.addLayout(buttons)
        # labels or the input itself (an autoencoder); shown for image outputs
        self.target_choice = TargetChoice(get_document, undo_stack, push)
        lay.addWidget(self.target_choice)
        for w in (self.info, self.message, self.warnings, self.examples,
                  self.vocabulary_view, self.series_view):
            lay.addWidget(w)
        lay.addStretch(1)
        self.source.currentIndexChanged.connect(lambda _i: self._source_changed())
        self._show_views(None, {})
        self._source_changed()

    # ------------------------------------------------------------------ input
    def _source_changed(self) -> None:
        kind = self.source.currentData()
        # MNIST / Fashion-MNIST take an optional local copy (mnist.npz / the IDX folder);
        # without one they look in the usual places and download like Keras.
        self.file_box.setVisible(kind != "sample")
        for row in (1, 2, 3):
            self.file_form.setRowVisible(row, kind == "file")
        self.file_form.labelForField(self.file_form.itemAt(0, QFormLayout.FieldRole)
                                     .layout()).setText("Folder" if kind == "image_folder"
                                                        else "File")
        self.browse.setText("Open image folder..." if kind == "image_folder" else "Browse...")
        self.options.setVisible(kind in OWN_KINDS)
        self.options.set_kind(kind)
        self.path.setPlaceholderText({
            "file": "data file (.npz, .csv, IDX images)",
            "mnist": "optional: a local mnist.npz",
            "fashion_mnist": "optional: folder with the four Fashion-MNIST IDX files",
            "image_folder": "folder with one sub-folder of images per class",
        }.get(kind, "CSV file with a header line" if kind in CSV_KINDS else ""))

    def _browse(self):
        kind = self.source.currentData()
        if kind in ("fashion_mnist", "image_folder"):
            title = ("Image folder (one sub-folder per class)" if kind == "image_folder"
                     else "Folder with the Fashion-MNIST files")
            path = QFileDialog.getExistingDirectory(self, title)
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Choose a data file", "",
                "CSV files (*.csv *.csv.gz *.txt);;All files (*)" if kind in CSV_KINDS else
                "Data files (*.npz *.csv *.csv.gz *-ubyte *-ubyte.gz *.idx*);;All files (*)")
        if path:
            self.path.setText(path)
            self._path_edited()

    def _path_edited(self) -> None:
        """A CSV for the column picker: preview its first rows and offer its columns."""
        if self.source.currentData() not in CSV_KINDS or not self.path.text().strip():
            return
        from core.datasets.table_data import peek_table

        path = self.path.text().strip()
        if self.options.table is not None and self.options.table.path == path:
            return
        try:
            self.options.show_table(peek_table(path))
        except (ValueError, OSError) as exc:
            self.message.setText(f"Cannot read the columns: {exc}")
            return
        self.message.setText("")

    def current_spec(self) -> DataSpec:
        doc = self.get_document()
        split = doc.training.validation_split if doc is not None else 0.1
        kind = self.source.currentData()
        extra = self.options.fields() if kind in OWN_KINDS else {}
        return DataSpec(kind=kind, path=self.path.text().strip(),
                        labels_path=self.labels_path.text().strip(),
                        test_path=self.test_path.text().strip(),
                        label_column=self.label_column.text().strip() or "-1",
                        validation_split=split, **extra)

    def show_spec(self, spec: DataSpec) -> None:
        self.source.setCurrentIndex(max(0, self.source.findData(spec.kind)))
        self.path.setText(spec.path)
        self.labels_path.setText(spec.labels_path)
        self.test_path.setText(spec.test_path)
        self.label_column.setText(spec.label_column)
        if spec.kind in CSV_KINDS:
            self._path_edited()
        if spec.kind in OWN_KINDS:
            self.options.show_fields(spec)

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
            # Text, thumbnails, views and 'Fit network' must all describe the SAME data:
            # drop a held-back candidate from an earlier load, show the accepted set again.
            self.candidate = None
            self._note_held_back(None)
            self._show_views(self.dataset, self.details)
            self.info.setText("Data not loaded." if self.dataset is None else self._describe(
                self.dataset))
            self._refuse(f"Refused: {result}")
            return
        ds, details = result
        self.candidate = (spec, ds, details)
        self._show_views(ds, details)
        reason = self.fit_problem(ds)
        self.info.setText(self._describe(ds))
        if reason is not None:
            self._note_held_back(f"The data panel holds back {ds.name}: {reason}")
            self._refuse(f"This data does not fit the network: {reason} "
                         "Click 'Fit network to data' to adapt the network, or choose "
                         "other data.")
            return
        self._accept(spec, ds, details)

    def _note_held_back(self, text) -> None:
        """The Problems list says why loaded data is not used (or stops saying it); the
        shapes and classes it checks stay those of the accepted data."""
        doc = self.get_document()
        if doc is None:
            return
        shape, classes = doc.data_info or (None, None)
        kept = self.dataset.warnings if self.dataset is not None else ()
        doc.set_data_info(shape, classes, tuple(kept) + ((text,) if text else ()))

    def _refuse(self, text: str) -> None:
        self.message.setText(text)
        self.loadFinished.emit(False, text)

    def _accept(self, spec, ds, details) -> None:
        doc = self.get_document()
        self.dataset, self.details, self.candidate = ds, details, None
        if doc is not None:
            if getattr(self, "_remember", True):
                self._remember_spec(doc, spec)
            classes = ds.num_classes if ds.task == "classification" else None
            doc.set_data_info(ds.suggested_input_shape(), classes, ds.warnings)
        self.message.setText("")
        self.datasetChanged.emit(ds)
        self.loadFinished.emit(True, self._describe(ds))

    def _remember_spec(self, doc, spec: DataSpec) -> None:
        """The data choice into the project: ONE command through the checked route."""
        name, meta = dataset_name(spec), spec_meta(spec)
        if doc.training.dataset == name and all(doc.meta.get(k) == v for k, v in meta.items()):
            return
        push_edit(SetDataSourceCommand(doc, name, meta), self.push, self.undo_stack)

    @staticmethod
    def _describe(ds) -> str:
        return describe_dataset(ds)

    def fit_problem(self, ds) -> str | None:
        """Why ``ds`` cannot train the current network, or None when it fits."""
        doc = self.get_document()
        if doc is None:
            return None
        try:
            in_id, out_id = input_and_output_nodes(doc)
        except PortError:
            return None  # an unfinished network: nothing to check against yet
        in_shape = doc.state(in_id).output_shape
        out_shape = doc.state(out_id).output_shape
        if in_shape is None or out_shape is None:
            return None  # the network itself has errors; the problems list says which
        try:
            n = min(len(ds.x_train), 8)  # a few rows are enough to check shapes/labels
            small = dataclasses.replace(ds, x_train=ds.x_train[:n], y_train=ds.y_train[:n],
                                        x_test=None, y_test=None)
            prepare(small, tuple(in_shape[1:]), int(out_shape[-1]), doc.training.loss, 0.0)
        except DataError as exc:
            return str(exc)
        return None

    # ----------------------------------------------------------- fit network
    def fit_network_to_data(self) -> str | None:
        """One undo command: Input shape and output Dense units from the loaded data."""
        doc = self.get_document()
        pending = self.candidate or ((None, self.dataset, self.details)
                                     if self.dataset is not None else None)
        if doc is None or pending is None:
            return "Load data first."
        spec, ds, details = pending
        try:
            in_id, out_id = input_and_output_nodes(doc)
        except PortError as exc:
            self.message.setText(str(exc))
            return str(exc)
        out_node = doc.nodes[out_id]
        units = None
        if out_node.type == "Dense":
            want = (ds.num_classes if doc.training.loss.endswith("categorical_crossentropy")
                    else 1 if ds.task == "regression" else None)
            if want and out_node.config.get("units") != want:
                units = want
        cmd = FitNetworkToDataCommand(doc, in_id, ds.suggested_input_shape(), out_id, units)
        reason = push_edit(cmd, self.push, self.undo_stack)
        if reason:
            self.message.setText(f"Cannot fit the network to the data: {reason}")
            return reason
        if spec is not None and self.fit_problem(ds) is None:
            self._accept(spec, ds, details)
        self.info.setText(self._describe(ds))
        return None

    # --------------------------------------------------------------- examples
    def _show_views(self, ds, details) -> None:
        """Thumbnails, vocabulary or series plot, and warnings: all of ``ds``."""
        self._show_examples(ds)
        kind = details.get("kind") if ds is not None else None
        self.vocabulary_view.setVisible(kind == "text")
        self.series_view.setVisible(kind == "series")
        if kind == "text":
            self.vocabulary_view.show_details(details)
        elif kind == "series":
            self.series_view.show_details(details, ds)
        warnings = tuple(ds.warnings) if ds is not None else ()
        self.warnings.setText("".join(f"⚠ {w}<br>" for w in warnings))
        self.warnings.setVisible(bool(warnings))

    def _show_examples(self, ds) -> None:
        while self.examples_grid.count():
            w = self.examples_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if ds is None or not ds.is_image:
            return
        from core.session.data_source import scale_inputs

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
