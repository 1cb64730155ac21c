"""The three sequence templates train on the samples shipped in resources/data (issue
#10 acceptance): the text classifier and the small transformer beat the majority class
of the held-out sentences by at least 15 points of accuracy; the forecaster's
validation MAE (the last 20% of the CO2 series by time) is at least 20% below the
naive last-value baseline. Also the loaders' refusals."""

import numpy as np
import pytest

from core import backend, optimizers, utils
from core.datasets.sequence_data import (
    load_series_csv,
    load_series_sample,
    load_text_csv,
    load_text_sample,
    series_windows,
)
from core.graph import templates as T
from core.layers import TextVectorization

N_TRAIN = 2400  # of the 3,000 shipped sentences, in file order


def _compiled(doc):
    backend.clear_session()
    utils.set_random_seed(42)
    model = doc.build_model()
    s = doc.training
    model.compile(optimizer=optimizers.Adam(s.learning_rate), loss=s.loss, metrics=s.metrics)
    return model, s


@pytest.fixture(scope="module")
def sentences():
    texts, labels, classes = load_text_sample()
    assert classes == ["negative", "positive"] and len(texts) == 3000
    tv = TextVectorization(max_tokens=T.VOCAB, output_sequence_length=T.SEQ_LEN)
    tv.adapt(texts[:N_TRAIN])  # the vocabulary sees no held-out sentence
    return tv(texts).astype("float32"), labels.astype("float32")


@pytest.mark.parametrize("make", [T.text_classifier, T.small_transformer])
def test_text_templates_beat_the_majority_class_by_15_points(make, sentences):
    x, y = sentences
    model, s = _compiled(make())
    model.fit(x[:N_TRAIN], y[:N_TRAIN], epochs=s.epochs, batch_size=s.batch_size, verbose=0)
    acc = float(((model.predict(x[N_TRAIN:], verbose=0)[:, 0] > 0.5) == y[N_TRAIN:]).mean())
    majority = max(y[N_TRAIN:].mean(), 1 - y[N_TRAIN:].mean())
    assert acc >= majority + 0.15, (acc, majority)


def test_forecaster_beats_the_naive_last_value_by_20_percent():
    x, y = series_windows(load_series_sample(), T.WINDOW, T.HORIZON)
    last = x[:, -1, 0]
    xr, yr = x - last[:, None, None], y - last  # the change from the window's last value
    n = int(len(x) * 0.8)  # split by time: validation is the last 20%
    scale = yr[:n].std()
    xr, yr = (xr / scale).astype("float32"), (yr / scale).astype("float32")
    model, s = _compiled(T.forecaster())
    model.fit(xr[:n], yr[:n], epochs=s.epochs, batch_size=s.batch_size, shuffle=True,
              verbose=0)
    mae = float(np.abs(model.predict(xr[n:], verbose=0)[:, 0] - yr[n:]).mean())
    naive = float(np.abs(yr[n:]).mean())  # last value: a predicted change of 0
    assert mae <= 0.8 * naive, (mae, naive)


def test_loaders_refuse_bad_files_naming_file_and_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,label\nhello,a\nbye,a\n")
    with pytest.raises(ValueError, match="single class"):
        load_text_csv(p)
    with pytest.raises(ValueError, match="no column 'score'"):
        load_text_csv(p, label_column="score")
    q = tmp_path / "s.csv"
    q.write_text("date,v\n1,2.0\n2,\n3,x\n")
    with pytest.raises(ValueError, match=r"s.csv: column 'v' is not numeric: line 4 holds 'x'"):
        load_series_csv(q, "v")
    q.write_text("date,v\n1,2.0\n2,\n3,4.0\n")
    np.testing.assert_allclose(load_series_csv(q, "v"), [2.0, 3.0, 4.0])
