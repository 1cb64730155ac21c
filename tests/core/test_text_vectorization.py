"""TextVectorization against Keras 3's documented examples and its source logic (Keras'
layer needs TensorFlow, which is not installed, so it cannot be run): the two docstring
examples, tie order of adapt, max_tokens, ngrams, multi_hot/count/tf_idf with Keras'
IDF formula, pad_to_max_tokens, set_vocabulary with special tokens, config round trip,
and the errors."""

import json
import math

import numpy as np
import pytest

from core.layers import TextVectorization


def test_keras_docstring_examples():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    np.testing.assert_array_equal(layer([["foo qux bar"], ["qux baz"]]),
                                  [[4, 1, 3, 0], [1, 2, 0, 0]])
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4,
                              vocabulary=["earth", "wind", "and", "fire"])
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    np.testing.assert_array_equal(layer(["earth wind and also fire"]), [[2, 3, 4, 1]])


def test_adapt_sorts_by_count_then_token_high_to_low_and_keeps_max_tokens():
    layer = TextVectorization(max_tokens=5)
    layer.adapt(["b a c", "a b", "a, D!", "e"])
    # counts a=3, b=2, then c=d=e=1 ordered e, d, c; 5 - 2 special tokens = 3 kept
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "e"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "e"]
    assert layer.vocabulary_size() == 5
    np.testing.assert_array_equal(layer(["A b c", "e"]), [[2, 3, 1], [4, 0, 0]])


def test_standardize_split_and_ngrams():
    layer = TextVectorization(standardize="lower", split="whitespace", ngrams=2)
    layer.adapt(["Hi, there  you"])
    assert set(layer.get_vocabulary()[2:]) == {"hi,", "there", "you", "hi, there",
                                                "there you"}
    layer = TextVectorization(standardize=None, split="character")
    layer.adapt(["abA"])
    assert layer.get_vocabulary()[2:] == ["b", "a", "A"]
    layer = TextVectorization(standardize="strip_punctuation", split=None)
    layer.adapt(["Hello, World!", "Hello, World!", "x"])
    assert layer.get_vocabulary()[2:] == ["Hello World", "x"]


def test_multi_hot_count_and_tf_idf_follow_keras_formulas():
    docs = ["the cat", "the dog the end", "a cat"]
    counts = TextVectorization(output_mode="count")
    counts.adapt(docs)
    vocab = counts.get_vocabulary()
    assert vocab[0] == "[UNK]" and vocab[1] == "the"
    row = counts(["the the zebra cat"])[0]
    assert row[vocab.index("the")] == 2 and row[0] == 1 and row[vocab.index("cat")] == 1
    multi = TextVectorization(output_mode="multi_hot", vocabulary=vocab[1:])
    np.testing.assert_array_equal(multi(["the the zebra cat"])[0], np.minimum(row, 1))
    tfidf = TextVectorization(output_mode="tf_idf")
    tfidf.adapt(docs)
    df = {"the": 2, "cat": 2, "dog": 1, "end": 1, "a": 1}
    idf = [math.log(1 + 3 / (1 + df[t])) for t in tfidf.get_vocabulary()[1:]]
    out = tfidf(["the the zebra cat"])[0]
    assert out[1] == pytest.approx(2 * idf[0], rel=1e-6)
    assert out[0] == pytest.approx(np.mean(idf), rel=1e-6)  # OOV: the mean idf
    padded = TextVectorization(output_mode="multi_hot", max_tokens=10, pad_to_max_tokens=True)
    padded.adapt(docs)
    assert padded(["cat"]).shape == (1, 10)


def test_set_vocabulary_accepts_the_special_tokens_first_and_refuses_bad_ones():
    layer = TextVectorization(vocabulary=["", "[UNK]", "x", "y"])
    assert layer.get_vocabulary() == ["", "[UNK]", "x", "y"]
    with pytest.raises(ValueError, match="repeated"):
        TextVectorization(vocabulary=["x", "x"])
    with pytest.raises(ValueError, match="larger than the maximum"):
        TextVectorization(max_tokens=3, vocabulary=["x", "y"])
    with pytest.raises(ValueError, match="static vocabulary"):
        layer.adapt(["x"])
    with pytest.raises(ValueError, match="idf_weights"):
        TextVectorization(output_mode="tf_idf", vocabulary=["x"])


def test_config_round_trip_with_a_vocabulary_and_keras_keys():
    layer = TextVectorization(max_tokens=10, ngrams=(1, 2), output_sequence_length=3,
                              vocabulary=["a", "b"], name="tv")
    config = json.loads(json.dumps(layer.get_config()))
    assert list(config)[3:] == ["max_tokens", "standardize", "split", "ngrams", "output_mode",
                                "output_sequence_length", "pad_to_max_tokens", "sparse",
                                "ragged", "vocabulary", "idf_weights", "encoding",
                                "vocabulary_size"]
    clone = TextVectorization.from_config(config)
    assert clone.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(clone(["a b c"]), layer(["a b c"]))


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="output_sequence_length"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="TensorFlow"):
        TextVectorization(ragged=True)
    layer = TextVectorization(name="tv")
    layer.adapt(["a b"])
    with pytest.raises(ValueError, match="'tv'.*last shape dimension must be 1"):
        layer(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="'tv' takes strings"):
        layer([3])
