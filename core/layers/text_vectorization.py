"""``TextVectorization`` (Keras 3): strings -> token ids, multi-hot, counts or TF-IDF.

Follows ``keras/src/layers/preprocessing/text_vectorization.py`` and its
``StringLookup`` (``index_lookup.py``) in plain Python/numpy, because Keras' own layer
needs TensorFlow (not installed here, so it was checked against Keras' documented
examples and its source logic, not run):

* standardize ``"lower_and_strip_punctuation"`` (default), ``"lower"``,
  ``"strip_punctuation"`` (Keras' regex ``[!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~']``), None,
  or a Python callable on one string; split ``"whitespace"`` (runs of whitespace,
  trimmed), ``"character"``, None; ``ngrams`` an int n (1..n) or a tuple of widths,
  joined by a space, all n-grams of one width before the next;
* the vocabulary: ``adapt(data)`` counts tokens, sorts by count, ties by the token
  from high to low (``np.lexsort(...)[::-1]``), keeps ``max_tokens`` minus the special
  tokens; or ``vocabulary=[...]`` / ``set_vocabulary``. ``"int"`` output: index 0 is the
  padding token ``""``, 1 is ``"[UNK]"`` (out of vocabulary), then the terms; padded or
  cut to ``output_sequence_length`` (else to the longest row). ``"multi_hot"``,
  ``"count"``, ``"tf_idf"``: index 0 is ``"[UNK]"``, one column per term (``max_tokens``
  columns with ``pad_to_max_tokens``); TF-IDF weights ``log(1 + docs / (1 + df))``, the
  OOV column the mean of the others, as Keras' ``finalize_state``.

Left out: use inside a model file. The engine's ``Input``, ``fit`` and ``predict`` take
numeric arrays only, so the layer preprocesses text outside the model (Keras' own
advice for non-TensorFlow backends), and the ``.keras`` ``assets/vocabulary.txt`` of a
model with this layer is not written. ``sparse``/``ragged`` are refused, as Keras does
on the torch and jax backends.

>>> tv = TextVectorization(output_sequence_length=4)
>>> tv.adapt(["The cat sat.", "the cat ran", "a dog"])
>>> tv.get_vocabulary()[:4]
['', '[UNK]', 'the', 'cat']
>>> tv(["The dog and the cat!"]).tolist()
[[2, 6, 1, 2]]
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from core.layers.base import Layer
from core.layers.spec import Param, register_nested_layer
from core.layers.values import _is_symbolic

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_MODES = ("int", "multi_hot", "count", "tf_idf")
MASK, OOV = "", "[UNK]"


# Not in the palette: it cannot sit in a model here (see the module docstring).
@register_nested_layer
class TextVectorization(Layer):
    group = "Sequence"
    params = (
        Param("max_tokens", "int", None, min=1, optional=True,
              doc="Largest vocabulary, special tokens included."),
        Param("standardize", "choice", "lower_and_strip_punctuation",
              choices=_STANDARDIZE + (None,), optional=True),
        Param("split", "choice", "whitespace", choices=("whitespace", "character", None),
              optional=True),
        Param("output_mode", "choice", "int", choices=_MODES),
        Param("output_sequence_length", "int", None, min=1, optional=True,
              doc="Pad or cut 'int' output to this many tokens."),
        Param("pad_to_max_tokens", "bool", False, advanced=True),
    )

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int",
                 output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 vocabulary_size=None, has_input_vocabulary=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if sparse or ragged:
            raise ValueError(f"Layer '{self.name}': sparse=True and ragged=True need the "
                             "TensorFlow backend (as in Keras); leave them False.")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        self._output_mode = self._check("output_mode", output_mode)
        self._standardize = standardize if callable(standardize) else \
            self._check("standardize", standardize)
        self._split = split if callable(split) else self._check("split", split)
        if not (ngrams is None or isinstance(ngrams, int) and not isinstance(ngrams, bool)
                and ngrams > 0 or isinstance(ngrams, (tuple, list)) and ngrams
                and all(isinstance(n, int) and n > 0 for n in ngrams)):
            raise ValueError(f"Layer '{self.name}': `ngrams` must be None, an integer, or a "
                             f"tuple of integers. Received: ngrams={ngrams}")
        self._ngrams_arg = tuple(ngrams) if isinstance(ngrams, list) else ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else \
            self._ngrams_arg
        self._max_tokens = self._check("max_tokens", max_tokens)
        self._output_sequence_length = self._check("output_sequence_length",
                                                   output_sequence_length)
        if self._output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"Layer '{self.name}': `output_sequence_length` must not be set "
                             f"if `output_mode` is not 'int'. Received "
                             f"output_sequence_length={output_sequence_length}.")
        self._pad_to_max_tokens = self._check("pad_to_max_tokens", pad_to_max_tokens)
        if self._pad_to_max_tokens and self._max_tokens is None:
            raise ValueError(f"Layer '{self.name}': pad_to_max_tokens=True needs max_tokens.")
        if idf_weights is not None and self._output_mode != "tf_idf":
            raise ValueError(f"Layer '{self.name}': `idf_weights` should only be set if "
                             f"output_mode is 'tf_idf'. Received: output_mode="
                             f"{self._output_mode} and idf_weights={idf_weights}")
        self._encoding = encoding
        self._input_vocabulary = None if vocabulary is None else list(vocabulary)
        self._input_idf = None if idf_weights is None else [float(w) for w in idf_weights]
        self._tokens: list[str] = []
        self._index: dict[str, int] = {}
        self._idf = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # --------------------------------------------------------------- vocabulary
    def _token_start(self) -> int:
        return 2 if self._output_mode == "int" else 1

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (terms, optionally led by the special tokens) as Keras does."""
        vocab = [str(t) for t in vocabulary]
        if not vocab:
            raise ValueError(f"Layer '{self.name}': cannot set an empty vocabulary.")
        special = [MASK, OOV][2 - self._token_start():]
        tokens = vocab[len(special):] if vocab[:len(special)] == special else vocab
        repeated = sorted(t for t, n in Counter(tokens).items() if n > 1)
        if repeated:
            raise ValueError(f"Layer '{self.name}': the passed vocabulary has at least one "
                             f"repeated term. Please uniquify your dataset. The repeated "
                             f"terms are: {repeated}")
        if MASK in tokens:
            raise ValueError(f"Layer '{self.name}': found the reserved mask token '' in the "
                             "vocabulary; leave special tokens out or put them first.")
        size = self._token_start() + len(tokens)
        if self._max_tokens is not None and size > self._max_tokens:
            raise ValueError(f"Layer '{self.name}': attempted to set a vocabulary larger than "
                             f"the maximum vocab size. Received vocabulary size is {size}; "
                             f"`max_tokens` is {self._max_tokens}.")
        if self._output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"Layer '{self.name}': `idf_weights` must be set if "
                                 "output_mode is 'tf_idf'.")
            idf = np.asarray(idf_weights, dtype=np.float32).reshape(-1)
            if idf.size != len(vocab):
                raise ValueError(f"Layer '{self.name}': `idf_weights` must be the same "
                                 f"length as vocabulary. len(idf_weights) is {idf.size}; "
                                 f"len(vocabulary) is {len(vocab)}")
            if len(vocab) == len(tokens):  # no special tokens given: OOV gets the mean
                idf = np.concatenate([[idf.mean()], idf]).astype(np.float32)
            self._idf = idf
        self._set_tokens(tokens)

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        start = self._token_start()
        self._index = {t: i + start for i, t in enumerate(self._tokens)}

    def get_vocabulary(self, include_special_tokens=True):
        special = [MASK, OOV] if self._output_mode == "int" else [OOV]
        return (special if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self):
        return self._token_start() + len(self._tokens)

    def adapt(self, data, batch_size=None, steps=None):
        """Build the vocabulary (and TF-IDF weights) from strings: a list or array, or an
        iterable of batches."""
        if self._input_vocabulary is not None:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static "
                             "vocabulary via `vocabulary` argument or `set_vocabulary()`.")
        if isinstance(data, (str, bytes)):
            data = [data]
        if isinstance(data, (list, tuple, np.ndarray)):
            batches = [data]
        else:
            batches = (b for i, b in enumerate(data) if steps is None or i < steps)
        counts, docs, n_docs = Counter(), Counter(), 0
        for batch in batches:
            for row in self._rows(batch):
                counts.update(row)
                docs.update(set(row))
                n_docs += 1
        for special in (MASK, OOV):
            counts.pop(special, None)
        if not counts:
            self._set_tokens([])
            return
        tokens = np.array(list(counts), dtype=object)
        order = np.lexsort((tokens.astype(str), np.array([counts[t] for t in tokens])))[::-1]
        if self._max_tokens:
            order = order[:max(self._max_tokens - self._token_start(), 0)]
        kept = [str(tokens[i]) for i in order]
        self._set_tokens(kept)
        if self._output_mode == "tf_idf":
            idf = np.log(1.0 + n_docs / (1.0 + np.array([docs[t] for t in kept], float)))
            idf = np.concatenate([[idf.mean()], idf])
            if self._pad_to_max_tokens:
                idf = np.pad(idf, (0, self._max_tokens - idf.size))
            self._idf = idf.astype(np.float32)

    # ------------------------------------------------------------- processing
    def _rows(self, inputs) -> list[list[str]]:
        arr = np.asarray(inputs, dtype=object)
        if arr.ndim == 2 and self._split is not None:
            if arr.shape[-1] != 1:
                raise ValueError(f"Layer '{self.name}': when using `TextVectorization` to "
                                 "tokenize strings, the input rank must be 1 or the last "
                                 f"shape dimension must be 1. Received: inputs.shape="
                                 f"{arr.shape} with rank=2")
            arr = arr[:, 0]
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"Layer '{self.name}' expects a batch of strings of shape "
                             f"(batch,) or (batch, 1), received shape {arr.shape}")
        return [self._tokens_of(s) for s in arr]

    def _tokens_of(self, s) -> list[str]:
        if isinstance(s, bytes):
            s = s.decode(self._encoding)
        elif not isinstance(s, str):
            raise ValueError(f"Layer '{self.name}' takes strings, received {type(s).__name__} "
                             f"{s!r}.")
        std = self._standardize
        if std in ("lower", "lower_and_strip_punctuation"):
            s = s.lower()
        if std in ("strip_punctuation", "lower_and_strip_punctuation"):
            s = _PUNCTUATION.sub("", s)
        if callable(std):
            s = std(s)
        if self._split == "whitespace":
            tokens = s.split()
        elif self._split == "character":
            tokens = list(s)
        elif callable(self._split):
            tokens = list(self._split(s))
        else:
            tokens = [s]
        if self._ngrams:
            tokens = [" ".join(tokens[i:i + n]) for n in self._ngrams
                      for i in range(len(tokens) - n + 1)]
        return tokens

    def _depth(self) -> int:
        return self._max_tokens if self._pad_to_max_tokens else self.vocabulary_size()

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        return (input_shape[0], self._depth())

    def __call__(self, inputs, *args, **kwargs):
        # Strings are not arrays of the engine (a list would read as several inputs):
        # the layer runs on its own, before the model, and records nothing on a tape.
        if _is_symbolic(inputs):
            raise ValueError(f"Layer '{self.name}' (TextVectorization) cannot be part of a "
                             "model here: the engine's Input takes numbers. Vectorize the "
                             "text first (ids = layer(texts)) and feed the ids to the model.")
        return self.call(inputs)

    def call(self, inputs):
        rows = [[self._index.get(t, 0 if t == MASK and self._output_mode == "int" else
                                 self._token_start() - 1) for t in row]
                for row in self._rows(inputs)]
        if self._output_mode == "int":
            width = self._output_sequence_length
            if width is None:
                width = max((len(r) for r in rows), default=0)
            out = np.zeros((len(rows), width), np.int64)
            for i, r in enumerate(rows):
                r = r[:width]
                out[i, :len(r)] = r
            return out
        out = np.zeros((len(rows), self._depth()), np.float32)
        for i, r in enumerate(rows):
            if r:
                np.add.at(out[i], r, 1.0)
        if self._output_mode == "multi_hot":
            return np.minimum(out, 1.0)
        if self._output_mode == "tf_idf":
            if self._idf is None:
                raise ValueError(f"Layer '{self.name}': output_mode='tf_idf' needs adapt() or "
                                 "idf_weights first.")
            out *= self._idf[:out.shape[1]]
        return out

    def get_config(self):
        for what, value in (("standardize", self._standardize), ("split", self._split)):
            if callable(value):
                raise ValueError(f"Layer '{self.name}': a Python callable as `{what}` cannot "
                                 "be written into a config (nothing we load runs code).")
        config = super().get_config()
        config.update({
            "max_tokens": self._max_tokens, "standardize": self._standardize,
            "split": self._split, "ngrams": self._ngrams_arg,
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": self._pad_to_max_tokens, "sparse": False, "ragged": False,
            "vocabulary": self._input_vocabulary, "idf_weights": self._input_idf,
            "encoding": self._encoding, "vocabulary_size": self.vocabulary_size(),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return super().from_config(config)
