"""The example projects shipped in ``resources/examples/``, built in code.

The ``.nwproj`` files are this module's output; re-create them with::

    python -m core.graph.templates            # writes resources/examples/*.nwproj

>>> doc = TEMPLATES["mnist_cnn"]()                        # doctest: +SKIP
>>> [doc.nodes[n].type for n in doc.nodes]                # doctest: +SKIP
['InputLayer', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense']
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.graph.build import auto_layout
from core.graph.document import GraphDocument

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"
CREATED = "2026-11-22T00:00:00+00:00"  # fixed, so regenerating gives identical files


def _doc(name: str, description: str, registry=None, **training) -> GraphDocument:
    doc = GraphDocument(registry=registry)
    doc.meta.update({"name": name, "description": description, "created": CREATED})
    doc.training = doc.training.replaced(**training)
    return doc


def _chain(doc, specs, start=None) -> list[str]:
    """Add ``(type, config)`` nodes wired one after the other (after ``start``)."""
    ids, prev = [], start
    for type_name, config in specs:
        nid = doc.add_node(type_name, config)
        if prev is not None:
            doc.connect(prev, nid)
        ids.append(nid)
        prev = nid
    return ids


def _finish(doc) -> GraphDocument:
    auto_layout(doc)
    doc.revalidate_all()
    return doc


def mnist_mlp(registry=None) -> GraphDocument:
    doc = _doc("MNIST MLP", "A multi-layer perceptron for 28x28 digits: flatten the image, "
               "one hidden layer with dropout, softmax over the 10 classes.", registry,
               loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.001,
               metrics=["accuracy"], epochs=5, batch_size=32, validation_split=0.1,
               dataset="sample", seed=42)
    _chain(doc, [("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", None),
                 ("Dense", {"units": 128, "activation": "relu"}), ("Dropout", {"rate": 0.2}),
                 ("Dense", {"units": 10, "activation": "softmax"})])
    return _finish(doc)


def mnist_cnn(registry=None) -> GraphDocument:
    doc = _doc("MNIST CNN", "The classic small convnet: one 3x3 convolution, 2x2 max "
               "pooling, a dense hidden layer and a softmax over the 10 digits.", registry,
               loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.001,
               metrics=["accuracy"], epochs=5, batch_size=32, validation_split=0.1,
               dataset="sample", seed=42)
    _chain(doc, [("InputLayer", {"shape": [28, 28, 1]}),
                 ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
                 ("MaxPooling2D", {"pool_size": [2, 2]}), ("Flatten", None),
                 ("Dense", {"units": 128, "activation": "relu"}),
                 ("Dense", {"units": 10, "activation": "softmax"})])
    return _finish(doc)


def resnet_block(registry=None) -> GraphDocument:
    doc = _doc("ResNet block", "A stem convolution followed by one residual block: two 3x3 "
               "convolutions whose output is added to the block's input (the skip wire), "
               "then pooling and a softmax classifier.", registry,
               loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.001,
               metrics=["accuracy"], epochs=3, batch_size=32, validation_split=0.1,
               dataset="sample", seed=42)
    conv = {"filters": 16, "kernel_size": [3, 3], "padding": "same"}
    stem = _chain(doc, [("InputLayer", {"shape": [28, 28, 1]}),
                        ("Conv2D", {**conv, "activation": "relu"})])[-1]
    body = _chain(doc, [("Conv2D", {**conv, "activation": "relu"}), ("Conv2D", conv)],
                  start=stem)
    add = doc.add_node("Add")
    doc.connect(body[-1], add)
    doc.connect(stem, add)
    _chain(doc, [("Activation", {"activation": "relu"}),
                 ("MaxPooling2D", {"pool_size": [2, 2]}), ("Flatten", None),
                 ("Dense", {"units": 10, "activation": "softmax"})], start=add)
    _finish(doc)
    # the block's body steps aside so the skip wire runs straight down beside it
    doc.move_nodes({n: (doc.nodes[n].pos[0] + 180.0, doc.nodes[n].pos[1]) for n in body})
    return doc


def two_input(registry=None) -> GraphDocument:
    doc = _doc("Two inputs", "Two inputs merged with Concatenate: the image, and a small "
               "vector of extra features joined before the classifier. With image data "
               "the 'ink_bands' Input gets the mean ink of 4 horizontal and 4 vertical "
               "bands of each image (core.session.derived_inputs); a data set can also "
               "bring its own array named 'ink_bands'.", registry,
               loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.001,
               metrics=["accuracy"], epochs=5, batch_size=32, validation_split=0.1,
               dataset="sample", seed=42)
    image = _chain(doc, [("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", None),
                         ("Dense", {"units": 64, "activation": "relu"})])
    doc.rename_node(image[0], "image")
    extra = _chain(doc, [("InputLayer", {"shape": [8]}),
                         ("Dense", {"units": 16, "activation": "relu"})])
    doc.rename_node(extra[0], "ink_bands")
    cat = doc.add_node("Concatenate")
    doc.connect(image[-1], cat)
    doc.connect(extra[-1], cat)
    _chain(doc, [("Dense", {"units": 10, "activation": "softmax"})], start=cat)
    return _finish(doc)


# Sequence templates (#10). Their data: ``core.datasets.sequence_data`` (the shipped
# VADER sentences, vectorized with TextVectorization to SEQ_LEN ids below VOCAB; the
# shipped CO2 series as windows of WINDOW weeks, each minus its last value, predicting
# the change HORIZON weeks on).
VOCAB, SEQ_LEN, WINDOW, HORIZON = 4000, 40, 52, 8


def text_classifier(registry=None) -> GraphDocument:
    doc = _doc("Text classifier", "Sentiment of a sentence: token ids (TextVectorization, "
               f"{VOCAB} words, {SEQ_LEN} steps, 0 = padding) -> Embedding with a padding "
               "mask -> LSTM (skips the padding) -> sigmoid. Trains on the shipped VADER "
               "sentences (positive / negative).", registry,
               loss="binary_crossentropy", optimizer="adam", learning_rate=0.002,
               metrics=["accuracy"], epochs=3, batch_size=32, validation_split=0.2,
               dataset="text_sample", seed=42)
    _chain(doc, [("InputLayer", {"shape": [SEQ_LEN]}),
                 ("Embedding", {"input_dim": VOCAB, "output_dim": 32, "mask_zero": True}),
                 ("LSTM", {"units": 32}),
                 ("Dense", {"units": 1, "activation": "sigmoid"})])
    return _finish(doc)


def forecaster(registry=None) -> GraphDocument:
    doc = _doc("Time-series forecaster", f"The value {HORIZON} steps ahead from the last "
               f"{WINDOW}: a causal Conv1D over the window, an LSTM, a linear output. "
               "Trains on the shipped Mauna Loa weekly CO2 series (windows minus their "
               "last value, split by time).", registry,
               loss="mse", optimizer="adam", learning_rate=0.003, metrics=["mae"],
               epochs=10, batch_size=32, validation_split=0.2, dataset="series_sample", seed=42,
               shuffle=True)
    _chain(doc, [("InputLayer", {"shape": [WINDOW, 1]}),
                 ("Conv1D", {"filters": 16, "kernel_size": 4, "padding": "causal",
                             "activation": "relu"}),
                 ("LSTM", {"units": 16}),
                 ("Dense", {"units": 1})])
    return _finish(doc)


def small_transformer(registry=None) -> GraphDocument:
    doc = _doc("Small transformer classifier", "One transformer block on token ids: "
               "Embedding (padding mask), self-attention (two wires from the embedding: "
               "query and value), a residual Add, LayerNormalization, average pooling over "
               "the unpadded steps, sigmoid. No position embedding (none in the palette "
               "yet): word order is not seen.", registry,
               loss="binary_crossentropy", optimizer="adam", learning_rate=0.002,
               metrics=["accuracy"], epochs=2, batch_size=32, validation_split=0.2,
               dataset="text_sample", seed=42)
    ids, emb = _chain(doc, [("InputLayer", {"shape": [SEQ_LEN]}),
                            ("Embedding", {"input_dim": VOCAB, "output_dim": 32,
                                           "mask_zero": True})])
    mha = doc.add_node("MultiHeadAttention", {"num_heads": 2, "key_dim": 16})
    doc.connect(emb, mha, 0)
    doc.connect(emb, mha, 1)
    add = doc.add_node("Add")
    doc.connect(emb, add)
    doc.connect(mha, add)
    _chain(doc, [("LayerNormalization", None), ("GlobalAveragePooling1D", None),
                 ("Dense", {"units": 1, "activation": "sigmoid"})], start=add)
    return _finish(doc)


TEMPLATES = {"mnist_mlp": mnist_mlp, "mnist_cnn": mnist_cnn, "resnet_block": resnet_block,
             "two_input": two_input}
# Kept apart from TEMPLATES while the ONNX and Keras-script exporters (whose tests run
# every entry of TEMPLATES) have no emitters for Embedding, LSTM, Conv1D and
# MultiHeadAttention; written to resources/examples like the others.
SEQUENCE_TEMPLATES = {"text_classifier": text_classifier, "forecaster": forecaster,
                      "small_transformer": small_transformer}
ALL_TEMPLATES = {**TEMPLATES, **SEQUENCE_TEMPLATES}


def write_examples(folder=EXAMPLES_DIR) -> list[Path]:
    """Build every template and save it as ``<folder>/<name>.nwproj``."""
    from core.graph.project_file import save_project
    out = []
    for name, make in ALL_TEMPLATES.items():
        doc = make()
        problems = [p.message for p in doc.problems() if p.severity == "error"]
        if problems:
            raise RuntimeError(f"template {name} is invalid: {problems}")
        path = Path(folder) / f"{name}.nwproj"
        save_project(doc, path)
        out.append(path)
    return out


if __name__ == "__main__":
    for p in write_examples(Path(sys.argv[1]) if len(sys.argv) > 1 else EXAMPLES_DIR):
        print(p)
