"""A few columns of wide stored rows (--features, --label-column): every read keeps within --memory.

A source reads whole stored rows (every column of a matrix, every field of a
compound table, text fields included) before it keeps its columns, while
blocks are sized by the columns kept.  A block of two columns of a matrix of
500 float64 columns once read its 4,000 rows whole (16 MB under --memory 2M),
and a window of the page shuffle read up to 8 MiB of stored rows at once.
"""

import tracemalloc

import h5py
import numpy as np

from sgdcli import TrainOptions, train
from sgdcli.data import sources
from sgdcli.data.table import Table

from conftest import cli

N, WIDE = 4000, 500
MEMORY = 2 << 20


def wide_matrix(path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, WIDE))
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=X, chunks=(64, WIDE))
        f["y"] = (X[:, 0] + X[:, 1] > 0).astype(np.float64)
    return X


def compound(path, text: bool):
    """A table of fields a, b, y (and a 4,000-byte text field between b and y where ``text``)."""
    rng = np.random.default_rng(1)
    fields = [("a", "f8"), ("b", "f8")] + ([("note", "S4000")] if text else []) + [("y", "f8")]
    rows = np.zeros(N, dtype=fields)
    rows["a"], rows["b"] = rng.standard_normal(N), rng.standard_normal(N)
    rows["y"] = (rows["a"] - rows["b"] + rng.logistic(size=N) > 0)
    if text:
        rows["note"] = b"x" * 4000
    with h5py.File(path, "w") as f:
        f.create_dataset("T", data=rows, chunks=(64,))
    return rows


def peak_of(call):
    """What ``call()`` returns, and the most memory NumPy and Python held at once while it ran."""
    tracemalloc.start()
    try:
        got = call()
        return got, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def window(table: Table, rows: int) -> list[tuple[int, int]]:
    """Runs of one read unit spread over the file, ``rows`` in all, not in file order: a window of the shuffle."""
    unit = table.unit_rows
    starts = np.random.default_rng(2).permutation(np.arange(0, N - unit + 1, unit))[:rows // unit]
    return [(int(s), int(s) + unit) for s in starts]


def test_two_columns_of_a_wide_matrix_are_read_within_memory(tmp_path):
    X = wide_matrix(tmp_path / "w.h5")
    with Table(tmp_path / "w.h5", features="0,1") as table:
        rows = min(table.block_rows(MEMORY), N)
        assert rows * table.row_bytes() < MEMORY / 2 < rows * WIDE * 8  # a block; its stored rows are not
        block, peak = peak_of(lambda: table.X.read(0, rows, None))
        np.testing.assert_array_equal(block, X[:rows, :2].astype(np.float32))
        assert peak < MEMORY, peak
        ranges = window(table, rows)
        out = np.empty((rows, 2), dtype=np.float32)
        got, peak = peak_of(lambda: table.X.read_ranges(ranges, out))
        np.testing.assert_array_equal(got, np.concatenate([X[a:b, :2] for a, b in ranges]).astype(np.float32))
        assert peak < MEMORY, peak


def test_a_table_with_a_long_text_field_is_read_within_memory(tmp_path):
    rows = compound(tmp_path / "t.h5", text=True)
    with Table(tmp_path / "t.h5", x="T", y=None, label_column="y", features="a,b") as table:
        n = min(table.block_rows(MEMORY), N)
        block, peak = peak_of(lambda: table.X.read(0, n, None))
        np.testing.assert_array_equal(block, np.column_stack([rows["a"], rows["b"]])[:n].astype(np.float32))
        assert peak < MEMORY, peak
        labels, peak = peak_of(lambda: table.Y.read(0, n, None))
        np.testing.assert_array_equal(labels, rows["y"][:n])
        assert peak < MEMORY, peak
        ranges = window(table, n)
        got, peak = peak_of(lambda: table.Y.read_ranges(ranges, np.empty(n)))
        np.testing.assert_array_equal(got, np.concatenate([rows["y"][a:b] for a, b in ranges]))
        assert peak < MEMORY, peak


def test_reads_in_pieces_train_the_model_whole_reads_train(tmp_path, monkeypatch):
    """The text field changes what is read, not the blocks, the windows or the model; nor does reading each span
    whole, as every read once did."""
    compound(tmp_path / "narrow.h5", text=False)
    compound(tmp_path / "wide.h5", text=True)
    opts = TrainOptions(x="T", label_column="y", features="a,b", epochs=2, memory=MEMORY, seed=3)
    narrow, wide = train(tmp_path / "narrow.h5", opts), train(tmp_path / "wide.h5", opts)
    monkeypatch.setattr(sources, "rows_per_read", lambda source, budget: 1 << 40)
    whole = train(tmp_path / "narrow.h5", opts)
    for model in (wide, whole):
        for name in ("weights", "bias", "center", "scale"):
            assert np.asarray(getattr(model, name)).tobytes() == np.asarray(getattr(narrow, name)).tobytes(), name
        assert [r["train_loss"] for r in model.history] == [r["train_loss"] for r in narrow.history]


def test_a_value_beyond_float32_in_a_composed_table_is_named_with_its_row_and_field(tmp_path):
    """NumPy's "overflow encountered in cast" (no file, dataset or row) is not printed: the rows are read
    through the same cast as every other read, and the check for non-finite values names the row, and the
    field as the row read again finds it."""
    compound(tmp_path / "t.h5", text=False)
    with h5py.File(tmp_path / "t.h5", "r+") as f:
        f["T"][5] = (1e300, 0.0, 1.0)
    code, out, err = cli("train", tmp_path / "t.h5", "-o", tmp_path / "m.h5", "--x", "T", "--label-column", "y",
                         "--bad-rows", "skip", "--epochs", "3", "--batch-size", "8", "-q")
    assert (code, err) == (0, ""), err
    code, out, err = cli("train", tmp_path / "t.h5", "-o", tmp_path / "m2.h5", "--x", "T", "--label-column", "y",
                         "--epochs", "3", "--batch-size", "8", "-q")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 't.h5'}:T: non-finite feature value at row 5, column 'a' "
                              "(NaN or infinite, or beyond float32's range of ±3.4e38: features are read as float32)\n"), err


def test_a_value_beyond_float32_in_a_csr_matrix_is_named_with_its_row_and_column(tmp_path):
    rows = compound(tmp_path / "t.h5", text=False)
    data = np.ones(N)
    data[7] = 1e300
    with h5py.File(tmp_path / "s.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = data, np.arange(N) % 3, np.arange(N + 1)
        g.attrs["shape"], g.attrs["encoding-type"] = (N, 3), "csr_matrix"
        f["y"] = rows["y"]
    code, out, err = cli("train", tmp_path / "s.h5", "-o", tmp_path / "m3.h5", "--epochs", "3", "--batch-size",
                         "8", "-q", "--bad-rows", "skip")
    assert (code, err) == (0, ""), err
    code, out, err = cli("train", tmp_path / "s.h5", "-o", tmp_path / "m4.h5", "--epochs", "3", "--batch-size",
                         "8", "-q")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 's.h5'}:X: non-finite feature value at row 7, column 1 "
                              "(NaN or infinite, or beyond float32's range of ±3.4e38: features are read as float32)\n"), err


def test_a_float64_feature_whose_variation_float32_loses_is_told(tmp_path):
    """A Unix time of about 1.7e9 over 1,000 seconds, stored as float64: read as float32, whose steps there are
    128 s, the linear fit's squared error was 15 times the optimum's, and nothing said so.  The features'
    deviations are set against float32's steps at their means; the same times less their first, or stored as
    float32 already (the data's own resolution), say nothing.  Without standardization, which measured them in
    its pass, nothing was said either: the sample read for the rate measures them then."""
    rng = np.random.default_rng(0)
    t = 1.7e9 + rng.uniform(0, 1000, 5000)
    z = rng.standard_normal(5000)
    y = 0.01 * (t - 1.7e9) + z + rng.normal(scale=0.1, size=5000)
    step = float(np.spacing(np.float32(t.mean())))
    assert step == 128.0
    for name, X, told in (("time.h5", np.column_stack([t, z]), True),
                          ("offset.h5", np.column_stack([t - t.min(), z]), False),
                          ("narrow.h5", np.column_stack([t, z]).astype(np.float32), False)):
        with h5py.File(tmp_path / name, "w") as f:
            f["X"], f["y"] = X, y
        code, _, err = cli("train", tmp_path / name, "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1",
                           "-q")
        assert code == 0
        if not told:
            assert "float32" not in err, err
            continue
        deviation = float(np.float32(t).astype(np.float64).std())
        assert err == (f"sgdcli: warning: {tmp_path / name}:X: feature 0: its values (mean {t.mean():.6g}, deviation "
                       f"{deviation:.3g}) span {deviation / step:.3g} steps of float32 (128 apart at that size) within "
                       "a deviation: features are read as float32, which keeps little of its variation; store it less "
                       "an offset (a time as seconds since the first row's)\n"), err
    for name, told in (("time.h5", True), ("offset.h5", False), ("narrow.h5", False)):
        code, _, err = cli("train", tmp_path / name, "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1",
                           "-q", "--no-standardize")
        assert code == 0 and ("steps of float32 (128 apart at that size)" in err) == told, err
        if told:  # the sample's figures: its rows, not every one
            assert err.startswith(f"sgdcli: warning: {tmp_path / name}:X: feature 0: its values (mean 1.7e+09, "), err
