"""A user's CSVs: chosen columns, normalisation on the training rows only, text
vocabularies, time-series windows split by time, and errors naming line and column."""

from pathlib import Path

import numpy as np
import pytest

from core.datasets.table_data import data_problems, load_table, read_table
from core.datasets.user_sequences import load_series_table, load_text_table

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def write(path, header, rows):
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(map(str, r)) for r in rows)
                    + "\n")
    return path


def test_columns_kinds_and_regression_with_training_row_statistics(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(50, 10, 40), rng.normal(-3, 0.5, 40)
    price = 2 * a - b + 0.25
    f = write(tmp_path / "houses.csv", ["a", "name", "b", "price"],
              [(a[i], f"h{i}", b[i], price[i]) for i in range(40)])
    table = read_table(f)
    assert table.columns == ["a", "name", "b", "price"]
    assert table.kinds == ["number", "text", "number", "number"]
    d = load_table(table, ["a", "b"], "price", validation_split=0.25)
    assert d.task == "regression" and d.y.dtype == np.float32 and d.x.shape == (40, 2)
    fit = np.stack([a, b], 1)[:30]  # the first 75 %: fit trains on them, validates on the rest
    np.testing.assert_allclose(d.mean, fit.mean(0), rtol=1e-5)
    np.testing.assert_allclose(d.x, (np.stack([a, b], 1) - fit.mean(0)) / fit.std(0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d.y, price, rtol=1e-6)


def test_text_labels_are_classes_and_imbalance_is_reported(tmp_path):
    rows = [(i, i % 3, "spam" if i < 35 else "ham") for i in range(40)]
    d = load_table(write(tmp_path / "mail.csv", ["x1", "x2", "kind"], rows), ["x1", "x2"],
                   "kind")
    assert d.task == "classification" and d.class_names == ("ham", "spam")
    assert np.bincount(d.y).tolist() == [5, 35]
    text = " ".join(d.warnings)
    assert "imbalanced" in text and "'spam' has 35" in text and "'ham' only 5" in text
    assert "only 40 samples" in text and "fewer than 10" in text


def test_missing_values_are_left_out_and_named_bad_cells_refused(tmp_path):
    rows = [(i, 2 * i, i % 2) for i in range(60)]
    rows[6] = (6, "", 0)
    rows[9] = (9, "NaN", 1)
    d = load_table(write(tmp_path / "m.csv", ["u", "v", "y"], rows), ["u", "v"], "y")
    assert len(d.y) == 58
    assert "2 row(s) with a missing or NaN value" in d.warnings[0]
    assert "line 8 column 'v'" in d.warnings[0] and "line 11 column 'v'" in d.warnings[0]
    rows[20] = (20, "twelve", 0)
    f = write(tmp_path / "bad.csv", ["u", "v", "y"], rows)
    with pytest.raises(ValueError, match=r"bad.csv: line 22, column 'v': 'twelve' is not a "):
        load_table(f, ["u", "v"], "y")
    with pytest.raises(ValueError, match="both a feature and the target"):
        load_table(f, ["u", "y"], "y")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="line 3 has 1 fields"):
        read_table(tmp_path / "ragged.csv")


def test_duplicates_and_single_class():
    assert any("duplicate" in w for w in data_problems(None, (), np.ones((60, 2)), "d"))
    assert any("same class" in w for w in data_problems(np.zeros(60, int), ("a",), None, "d"))


def test_text_csv_vocabulary_from_training_rows_only(tmp_path):
    rows = [(f'"good great fine {i}"', "pos") for i in range(30)] + \
           [(f'"bad awful poor {100 + i}"', "neg") for i in range(30)]
    f = write(tmp_path / "t.csv", ["text", "label"], rows)
    d = load_text_table(f, "text", "label", validation_split=0.0, test_fraction=0.25)
    assert d.class_names == ("neg", "pos") and len(d.texts_train) == 45
    assert d.x_train.shape == (45, d.sequence_length) and d.x_test.shape == (15, 4)
    vocab = set(d.vocabulary)
    assert {"good", "bad"} <= vocab and d.vocabulary[:2] == ["", "[UNK]"]
    train_numbers = {t.split()[-1] for t in d.texts_train}
    assert {w for w in vocab if w.isdigit()} == train_numbers  # test rows never leak in
    assert d.stats["coverage_train"] == 1.0 and d.stats["coverage_test"] == pytest.approx(0.75)
    assert d.stats["lengths"].tolist() == [4] * 45
    for text, ids in zip(d.texts_train, d.x_train):
        assert [d.vocabulary[k] for k in ids] == text.split()


def test_series_windows_split_by_time(tmp_path):
    t = np.arange(100.0)
    rows = [(f"d{i}", np.sin(i / 5) * 10 + 20, i % 7) for i in range(100)]
    rows[40] = ("d40", "", 5)
    f = write(tmp_path / "s.csv", ["date", "load", "weekday"], rows)
    s = load_series_table(f, "load", ["weekday"], window=5, horizon=2, test_fraction=0.2)
    values = np.sin(t / 5) * 10 + 20
    values[40] = (values[39] + values[41]) / 2
    np.testing.assert_allclose(s.values, values)
    assert "1 empty cell(s) (first: line 42)" in s.warnings[0]
    assert s.columns == ("load", "weekday") and s.x_train.shape[1:] == (5, 2)
    np.testing.assert_allclose(s.x_train[3, :, 0], values[3:8], rtol=1e-6)
    assert s.y_train[3] == pytest.approx(values[3 + 5 + 2 - 1])
    assert s.time_index_test[0] == 80 == s.split_row
    np.testing.assert_allclose(s.y_test, values[80:], rtol=1e-6)
    assert len(s.x_train) + len(s.x_test) == 100 - 6
    with pytest.raises(ValueError, match="line 4, column 'load': 'x' is not a finite"):
        rows[2] = ("d2", "x", 1)
        load_series_table(write(tmp_path / "b.csv", ["date", "load", "weekday"], rows),
                          "load", window=5)


def test_real_reviews_and_demand():
    foods = SHARED / "text-fine-foods" / "fine_foods.csv.gz"
    demand = SHARED / "timeseries-elecdemand" / "elecdemand.csv"
    if not foods.exists() or not demand.exists():
        pytest.skip("../shared/data is absent")
    d = load_text_table(foods, "review", "score")
    assert d.class_names == ("great", "other") and len(d.y_train) + len(d.y_test) == 5000
    assert 0.9 < d.stats["coverage_test"] < d.stats["coverage_train"] <= 1.0
    s = load_series_table(demand, "demand_gw", ["temperature_c"], window=48)
    assert s.x_train.shape[1:] == (48, 2) and s.split_row == 14016
