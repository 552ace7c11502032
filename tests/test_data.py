"""Reading data out of core: layouts, conversions, block plans, shuffling."""

import numpy as np
import pytest

from sgdcli import train
from sgdcli.data import shuffle
from sgdcli.engine import epoch as engine
from sgdcli.options import TrainOptions
from sgdcli.data.table import Table

from conftest import make_problem, short_fits, write_table


@pytest.fixture(scope="module")
def data():
    return make_problem("binary", n=3000, d=5, seed=9)


def weights(path, **kw):
    return train(path, TrainOptions(epochs=2, batch_size=16, **kw)).weights


def test_layouts_and_dtypes_give_identical_models(tmp_path, data):
    X, y = data
    plain = write_table(tmp_path / "plain.h5", X, y)
    variants = {
        "chunked": write_table(tmp_path / "c.h5", X, y, chunks=256),
        "gzip": write_table(tmp_path / "g.h5", X, y, chunks=100, compression="gzip"),
        "lzf": write_table(tmp_path / "l.h5", X, y, chunks=333, compression="lzf"),
        "float64": write_table(tmp_path / "f64.h5", X.astype(np.float64), y),
        "big-endian": write_table(tmp_path / "be.h5", X.astype(">f4"), y.astype(">i8")),
        "float labels": write_table(tmp_path / "fy.h5", X, y.astype(np.float32)),
    }
    Xi = np.round(X * 100).astype(np.int32)
    ints = write_table(tmp_path / "i.h5", Xi, y)
    ints_as_float = write_table(tmp_path / "if.h5", Xi.astype(np.float32), y)
    with Table(plain) as t:
        assert t.X.zero_copy and t.X.layout.read_mode == "memory-mapped"
    with Table(variants["gzip"]) as t:
        assert not t.X.zero_copy and t.X.layout.read_mode == "chunk-aligned blocks decoded in parallel"
    with Table(variants["lzf"]) as t:
        assert not t.X.zero_copy and t.X.layout.read_mode == "chunk-aligned blocks"
    # The page shuffle reads decoded layouts in runs of whole chunks (data/shuffle.py), so its order is
    # the same for the layouts read in place, and file order (--no-shuffle) the same for all.
    in_place = ("chunked", "float64", "float labels")
    for shuffle_on in (True, False):
        base = weights(plain, shuffle=shuffle_on)
        for name, path in variants.items():
            if shuffle_on and name not in in_place:
                continue
            np.testing.assert_array_equal(weights(path, shuffle=shuffle_on), base, err_msg=name)
        np.testing.assert_array_equal(weights(ints, shuffle=shuffle_on), weights(ints_as_float, shuffle=shuffle_on))


@pytest.mark.parametrize("dtype", ["bool", "float16", ">f8", ">i4", "uint8"])
def test_labels_of_any_numeric_type_train_the_plain_model_in_windows(tmp_path, data, dtype):
    """Labels the compiled readers cannot read in place (bools, float16, the other byte order) are still read
    row by row from the map, so the page shuffle visits the rows as it does for float64 labels.  They were
    read in runs of a megabyte: a different model, and with a small --memory (or a large file) a refusal
    saying that --memory could not hold a million rows."""
    X, y = data
    plain = write_table(tmp_path / "plain.h5", X, y)
    odd = write_table(tmp_path / "odd.h5", X, y.astype(dtype))
    with Table(odd) as t:
        assert t.Y.random_access and t.Y.unit_rows == 1
    small = {"memory": 1 << 20}  # two windows
    np.testing.assert_array_equal(weights(odd, **small), weights(plain, **small))


def test_many_blocks_without_shuffle_match_one_block(tmp_path):
    """Out-of-core order equals in-memory order when shuffling is off: batches straddle blocks.  (An explicit
    rate: --lr auto's sample is smaller in 1 MiB.)"""
    X, y = make_problem("binary", n=20000, d=20, seed=1)
    path = write_table(tmp_path / "d.h5", X, y, chunks=1000)
    with Table(path) as t:
        assert len(t.spans(t.block_rows(2**20), 2**20)) >= 4
    small = train(path, TrainOptions(shuffle=False, memory=2**20, epochs=1, batch_size=100, lr=0.1)).weights
    large = train(path, TrainOptions(shuffle=False, memory=2**30, epochs=1, batch_size=100, lr=0.1)).weights
    np.testing.assert_array_equal(small, large)


def test_blocks_are_chunk_aligned_and_bounded(tmp_path):
    X, y = make_problem("binary", n=50000, d=5, seed=0)
    path = write_table(tmp_path / "c.h5", X, y, chunks=128)
    with Table(path) as t:
        rows = t.block_rows(2**20)
        assert rows % 128 == 0
        assert 2 * rows * t.row_bytes() <= 2**20
        spans = t.spans(rows, 2**20)
        assert len(spans) > 2 and spans[0] == (0, rows) and spans[-1][1] == 50000


class Recorder:
    """Stands in for the kernel and records which rows each call visits."""

    def __init__(self):
        self.calls = []

    def __call__(self, cfg, X, y, rows, center, *args):
        # X is flat, rows the element offsets of the rows; buffers are reused: copy the rows as they are now
        self.calls.append(X[rows[:, None] + np.arange(len(center))])
        return 0


def visits(monkeypatch, path, X, epochs=2, **kw):
    """Rows (file row numbers) that the real engine hands to the kernel, per epoch, in order.

    Rows are told apart by their values (``X`` has no two rows alike), so it
    does not matter whether the kernel read them in place or from a copy.
    """
    rec = Recorder()
    monkeypatch.setattr(engine, "train_block", rec)
    monkeypatch.setattr(engine, "finish_batch", lambda *a: True)
    monkeypatch.setattr("sgdcli.parallel.local.LocalExecutor.warm_up", lambda self: None)
    train(path, TrainOptions(epochs=epochs, memory=2**20, **kw))
    index = {row.tobytes(): i for i, row in enumerate(X)}
    rows = [np.array([index[r.tobytes()] for r in values], dtype=np.int64) for values in rec.calls]
    sizes = np.cumsum([len(r) for r in rows])
    per_epoch = np.split(np.concatenate(rows), epochs)
    assert all(len(r) == sizes[-1] // epochs for r in per_epoch)
    return per_epoch


@pytest.mark.parametrize("layout", ["contiguous", "chunks", "scattered", "interleaved", "float64", "gzip"])
def test_each_epoch_visits_every_row_exactly_once_in_a_new_order(monkeypatch, tmp_path, layout):
    """In place (through strides too), copied (float64), or decoded: every row once, a new order each epoch."""
    X, y = make_problem("binary", n=30000, d=10, seed=2)
    if layout in ("scattered", "interleaved"):
        from test_chunks import write_scattered

        path = write_scattered(tmp_path / "d.h5", X, y, 500, pad=layout == "interleaved")
    elif layout == "float64":
        path = write_table(tmp_path / "d.h5", X.astype(np.float64), y)
    else:
        options = {"contiguous": {}, "chunks": {"chunks": 500}, "gzip": {"chunks": 500, "compression": "gzip"}}
        path = write_table(tmp_path / "d.h5", X, y, **options[layout])
    r1, r2 = visits(monkeypatch, path, X)
    np.testing.assert_array_equal(np.sort(r1), np.arange(30000))
    np.testing.assert_array_equal(np.sort(r2), np.arange(30000))
    assert not np.array_equal(r1, r2)
    # every batch of 256 draws on many places of the file: here 16 pages of 16 rows (or less)
    assert np.median([len(np.unique(r1[b:b + 256] // 16)) for b in range(0, 30000 - 256, 256)]) >= 16
    (o1,) = visits(monkeypatch, path, X, epochs=1, shuffle=False)
    np.testing.assert_array_equal(o1, np.arange(30000))


def test_each_epoch_permutes_the_extents_so_windows_hold_other_parts_of_the_file():
    """The in-window shuffle and the moving page grid alone change the row order from epoch to epoch, but each
    window would then hold the same rows every epoch: the extents' order (so each window's) is new every epoch,
    and the same for a seed."""
    pages = shuffle.PageShuffle(n_rows=100_000, page_rows=4, extent_rows=100, window_extents=50, seed=3)
    orders = [pages.extent_order(epoch) for epoch in range(4)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(1000))
    firsts = [frozenset(pages.windows(order)[0].tolist()) for order in orders]
    assert len(set(firsts)) == 4  # no two epochs start with the same window
    np.testing.assert_array_equal(pages.extent_order(2), shuffle.PageShuffle(
        n_rows=100_000, page_rows=4, extent_rows=100, window_extents=50, seed=3).extent_order(2))
    assert not np.array_equal(pages.extent_order(2), shuffle.PageShuffle(
        n_rows=100_000, page_rows=4, extent_rows=100, window_extents=50, seed=4).extent_order(2))


def test_validation_rows_are_never_trained_on(monkeypatch, tmp_path):
    X, y = make_problem("binary", n=20000, d=10, seed=3)
    path = write_table(tmp_path / "d.h5", X, y, chunks=1000)
    r1, r2 = visits(monkeypatch, path, X, val_fraction=0.25, seed=5)
    held = np.flatnonzero(shuffle.validation_mask(0, 20000, 0.25, 5))
    assert 0.23 < len(held) / 20000 < 0.27
    for visited in (r1, r2):
        assert np.intersect1d(visited, held).size == 0
        np.testing.assert_array_equal(np.sort(visited), np.setdiff1d(np.arange(20000), held))


def test_validation_mask_does_not_depend_on_block_size():
    whole = shuffle.validation_mask(0, 10000, 0.1, 42)
    parts = np.concatenate([shuffle.validation_mask(s, min(s + 777, 10000), 0.1, 42) for s in range(0, 10000, 777)])
    np.testing.assert_array_equal(whole, parts)
    assert not np.array_equal(whole, shuffle.validation_mask(0, 10000, 0.1, 43))


@short_fits
@pytest.mark.parametrize("batch,drop_last,expected", [(1, False, 1000), (32, False, 32), (32, True, 31), (None, False, 1), (999, False, 2), (999, True, 1)])
def test_iterations_per_epoch(tmp_path, batch, drop_last, expected):
    X, y = make_problem("binary", n=1000, d=3, seed=0)
    path = write_table(tmp_path / "d.h5", X, y, chunks=64)
    m = train(path, TrainOptions(batch_size=batch, drop_last=drop_last, epochs=2, memory=2**20))
    assert m.training["iterations_per_epoch"] == expected
    assert [h["iterations"] for h in m.history] == [expected, expected]
    assert m.training["updates"] == 2 * expected


def test_standardization_statistics_are_stored_and_applied(tmp_path):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((4000, 3)) * [1, 10, 100] + [5, -5, 50]).astype(np.float32)
    y = (X[:, 0] - 5 + (X[:, 1] + 5) / 10 > 0).astype(int)
    path = write_table(tmp_path / "d.h5", X, y, chunks=300)
    from sgdcli.training.fitwarnings import FitWarning

    with pytest.warns(FitWarning, match="may be far from the optimum"):  # (labels the features separate, at --lr 0.1)
        m = train(path, TrainOptions(standardize=True, memory=2**20, epochs=3, lr=0.1))
    np.testing.assert_allclose(m.center, X.astype(np.float64).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(m.scale, X.astype(np.float64).std(axis=0), rtol=1e-9)
    from sgdcli import predict
    import h5py

    predict(m, path, tmp_path / "p.h5", proba=True)
    with h5py.File(tmp_path / "p.h5") as f:
        p1 = f["proba"][:, 1]
    s = ((X - m.center) / m.scale) @ m.weights[0] + m.bias[0]
    np.testing.assert_allclose(p1, 1 / (1 + np.exp(-s)), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("k", [2, 5, 40])  # 40 classes take the binary-search path
def test_label_encoding_maps_classes_and_names_a_stranger(k):
    from sgdcli.errors import InputError
    from sgdcli.model.labels import Labels

    rng = np.random.default_rng(k)
    classes = np.sort(rng.choice(np.arange(-500, 500), k, replace=False)).astype(float)
    labels = Labels("binary" if k == 2 else "multiclass", classes)
    y = rng.choice(classes, 1000)
    rows = np.sort(rng.choice(1000, 600, replace=False)).astype(np.int64)
    np.testing.assert_array_equal(classes[labels.encode_rows(y, rows, "f:y")[rows].astype(int)], y[rows])
    np.testing.assert_array_equal(classes[labels.encode(y, "f:y").astype(int)], y)
    for stranger in (classes[0] - 1, classes[-1] + 1, (classes[0] + classes[1]) / 2):
        y[rows[17]] = stranger
        with pytest.raises(InputError, match=rf"^f:y: label .* at row {100 + rows[17]} is not one of the model's classes"):
            labels.encode_rows(y, rows, "f:y", first_row=100)
    file_rows = rng.permutation(5000)[:1000]  # encode_at: labels in visiting order, named by their file rows
    for stranger in (np.nan, classes[-1] + 1):
        y = rng.choice(classes, 1000)
        codes = labels.encode_at(y.copy(), file_rows, "f:y")
        np.testing.assert_array_equal(classes[codes.astype(int)], y)
        mine = y.copy()
        assert labels.encode_at(mine, file_rows, "f:y", in_place=True) is mine
        np.testing.assert_array_equal(mine, codes)
        y[[400, 700]] = stranger
        said = (rf"label missing \(NaN\) at row {file_rows[400]}$" if np.isnan(stranger) else
                rf"label .* at row {file_rows[400]} is not one of the model's classes")
        with pytest.raises(InputError, match="^f:y: " + said):
            labels.encode_at(y, file_rows, "f:y", in_place=True)


def test_a_read_ahead_dropped_unfinished_does_not_wait_for_its_reader():
    """The garbage collector may finalize a dropped pipeline in any thread: it must not join the reader there
    (that deadlocked once, in a thread that was starting another).  ``close()`` does wait."""
    import gc
    import threading

    from sgdcli.data.prefetch import _Pipeline

    release, finished, watchdog = threading.Event(), [], []

    def load(i):
        if i == 1:
            release.wait(30)  # the read ahead, still in flight when the pipeline is dropped
        finished.append(i)
        return i

    pipeline = _Pipeline(3, load)
    assert next(pipeline) == 0
    timer = threading.Timer(10, lambda: (watchdog.append(True), release.set()))
    timer.start()
    del pipeline
    gc.collect()
    assert not watchdog  # the collection returned while the reader was still blocked
    release.set()
    timer.cancel()

    for t in [t for t in threading.enumerate() if t.name.startswith("sgdcli-read")]:
        t.join(10)  # the dropped pipeline's reader, released above, ends by itself
    waited = _Pipeline(2, load)
    assert next(waited) == 0
    waited.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("sgdcli-read")]  # close() joined its reader
