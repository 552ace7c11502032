"""Storage a writer never wrote: every command stops with the rows, unless told to read the fill values."""

import os
import signal
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

from sgdcli.data.unwritten import unwritten

from conftest import cli, make_problem, reader_argv, write_table

COMMANDS = ("train", "predict", "evaluate")


def partial(path, written_rows, n=100_000, chunk=1000, d=8):
    """A pre-allocated X and y of which only the first ``written_rows`` rows were written (a crashed export)."""
    X, y = make_problem("binary", n=written_rows, d=d, seed=3)
    with h5py.File(path, "w") as f:
        xs = f.create_dataset("X", shape=(n, d), chunks=(chunk, d), dtype="f4")
        ys = f.create_dataset("y", shape=(n,), chunks=(chunk,), dtype="i8")
        xs[:written_rows], ys[:written_rows] = X, y
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    X, y = make_problem("binary", n=2000, d=8, seed=3)
    assert cli("train", write_table(d / "plain.h5", X, y), "-o", d / "m.h5", "-q")[0] == 0
    return d / "m.h5"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_partly_written_file_is_refused_with_the_rows_never_written(tmp_path, model, command):
    data = partial(tmp_path / "data.h5", 40_000)
    code, out, err = cli(*reader_argv(command, data, model, tmp_path))
    assert code == 2 and out == ""
    assert err.strip() == (f"sgdcli: error: {data}:X: rows 40,000–99,999 were never written (60 of 100 chunks "
                           "unallocated); the file looks incomplete (--allow-unwritten reads their fill values)")
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_allow_unwritten_reads_the_fill_values_and_says_how_many(tmp_path, model, command):
    data = partial(tmp_path / "data.h5", 40_000)
    code, out, err = cli(*reader_argv(command, data, model, tmp_path), "--allow-unwritten")
    assert code == 0, err
    assert f"--allow-unwritten: 60,000 rows of {data} are read from fill values" in err
    if command == "train":
        from sgdcli import load_model

        assert load_model(tmp_path / "out.h5").training["unwritten_rows"] == 60_000


@pytest.mark.parametrize("written,expected", [
    ([(0, 1000), (2000, 5000)], ([[1000, 2000]], 1)),  # a hole
    ([], ([[0, 5000]], 5)),  # nothing
    ([(0, 4000)], ([[4000, 5000]], 1)),  # the last chunk only
    ([(0, 4500)], ([], 0)),  # the last chunk half written is allocated: what a chunk holds cannot be told
    ([(1000, 2000), (3000, 4000)], ([[0, 1000], [2000, 3000], [4000, 5000]], 3)),
])
def test_the_rows_come_from_the_chunk_index(tmp_path, written, expected):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        ds = f.create_dataset("X", shape=(5000, 4), chunks=(1000, 4), dtype="f4")
        for a, b in written:
            ds[a:b] = 1.0
    with h5py.File(tmp_path / "d.h5") as f:
        got = unwritten(f["X"])
    ranges, missing = expected
    if missing == 0:
        assert got is None
    else:
        np.testing.assert_array_equal(got.ranges, ranges)
        assert got.missing == missing and got.total == 5


def test_chunks_across_columns_count_a_row_band_only_when_all_are_written(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        ds = f.create_dataset("X", shape=(300, 10), chunks=(100, 5), dtype="f4")
        ds[:, :5] = 1.0
        ds[:100, 5:] = 1.0  # rows 100-299 miss their right half
    with h5py.File(tmp_path / "d.h5") as f:
        got = unwritten(f["X"])
        np.testing.assert_array_equal(got.ranges, [[100, 300]])
        assert (got.missing, got.total) == (2, 6)
        assert unwritten(f["X"], axis=1).rows == 5  # the columns view, as a transposed (MATLAB) read sees it


def test_chunks_of_columns_not_read_are_not_missing_for_those_read(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        ds = f.create_dataset("X", shape=(300, 10), chunks=(100, 5), dtype="f4")
        ds[:, :5] = 1.0
        ds[:100, 5:] = 1.0  # rows 100-299 miss their right half
    with h5py.File(tmp_path / "d.h5") as f:
        assert unwritten(f["X"], columns=np.arange(5)) is None
        got = unwritten(f["X"], columns=np.array([2, 7]))
        np.testing.assert_array_equal(got.ranges, [[100, 300]])
        assert got.columns == (5, 10)
        assert got.message("d.h5:X").startswith("d.h5:X: rows 100–299 of columns 5–9 were never written (2 of 6 ")


def test_a_file_whose_unwritten_chunks_hold_some_columns_trains_on_the_others(tmp_path):
    """A 2-D dataset chunked across its columns, whose writer died after the first two columns of rows
    2,000-3,999: the message names those columns, and --features without them trains; with one, it is refused."""
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        X = f.create_dataset("X", shape=(4000, 4), dtype="f4", chunks=(500, 2))
        X[:, :2] = rng.standard_normal((4000, 2))
        X[:2000, 2:] = rng.standard_normal((2000, 2))
        f["y"] = (rng.random(4000) < 0.5).astype("f8")
    told = (f"{tmp_path / 'd.h5'}:X: rows 2,000–3,999 of columns 2–3 were never written (4 of 16 chunks "
            "unallocated); the file looks incomplete (--allow-unwritten reads their fill values)\n")
    for extra in ([], ["--features", "0,2"]):
        code, out, err = cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "-q", *extra)
        assert (code, err) == (2, f"sgdcli: error: {told}")
    code, out, err = cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "-q", "--features", "0,1")
    assert (code, err) == (0, "")


def test_a_contiguous_dataset_never_written_is_refused(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("X", shape=(50, 3), dtype="f4")
        f["y"] = np.arange(50) % 2
    code, out, err = cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5")
    assert code == 2 and "d.h5:X: rows 0–49 were never written (no storage allocated)" in err, err


def test_a_declared_huge_dataset_never_written_exits_at_once(tmp_path, model):
    """10^12 rows declared, nothing written: an immediate exit 2 from the chunk index, not a read of fill values."""
    with h5py.File(tmp_path / "huge.h5", "w") as f:
        f.create_dataset("X", shape=(10**12, 8), chunks=(4096, 8), dtype="f4")
        f.create_dataset("y", shape=(10**12,), chunks=(4096,), dtype="f4")
    for command in COMMANDS:
        code, out, err = cli(*reader_argv(command, tmp_path / "huge.h5", model, tmp_path))
        assert code == 2 and "huge.h5:X: rows 0–999,999,999,999 were never written (244,140,625 of 244,140,625 " \
                              "chunks unallocated)" in err, err
    code, out, err = cli("info", tmp_path / "huge.h5")
    assert code == 0 and "1,000,000,000,000 rows never written" in out


def test_labels_and_other_layouts_are_checked_too(tmp_path):
    X, y = make_problem("binary", n=3000, d=3, seed=1)
    with h5py.File(tmp_path / "y.h5", "w") as f:
        f["X"] = X
        ys = f.create_dataset("y", shape=(3000,), chunks=(500,), dtype="i8")
        ys[:2500] = y[:2500]
    code, out, err = cli("train", tmp_path / "y.h5", "-o", tmp_path / "m.h5")
    assert code == 2 and "y.h5:y: rows 2,500–2,999 were never written (1 of 6 chunks unallocated)" in err, err
    with h5py.File(tmp_path / "g.h5", "w") as f:  # a group of columns, one of them short of its last chunk
        for j in range(3):
            c = f.create_dataset(f"X/c{j}", shape=(3000,), chunks=(1000,), dtype="f4")
            c[: 2000 if j == 1 else 3000] = X[: 2000 if j == 1 else 3000, j]
        f["y"] = y
    code, out, err = cli("train", tmp_path / "g.h5", "-o", tmp_path / "m.h5")
    assert code == 2 and "g.h5:X/c1: rows 2,000–2,999 were never written (1 of 3 chunks unallocated)" in err, err


def test_info_says_where_early_allocation_hides_the_rows_never_written(tmp_path):
    """Allocated at creation (parallel HDF5 always allocates so), a chunk is no sign of a write and nothing else
    in the file tells one: the check cannot see such rows, and info says so rather than guess from the values."""
    with h5py.File(tmp_path / "early.h5", "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((1000, 5))
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        h5py.h5d.create(f.id, b"X", h5py.h5t.IEEE_F32LE, h5py.h5s.create_simple((8000, 5)), dcpl=dcpl)
        f["X"][:4000] = 1.0
        f["y"] = np.arange(8000) % 2
    with h5py.File(tmp_path / "early.h5") as f:
        assert unwritten(f["X"]) is None
    code, out, err = cli("info", tmp_path / "early.h5")
    assert code == 0 and ("  X: shape 8000×5, float32, chunked, chunks 1000×5, compression none, 156.2 KiB "
                          "(156.2 KiB stored), read memory-mapped chunks; allocated early: rows never written "
                          "cannot be told\n" in out), out
    assert "  y: shape 8000, int64, contiguous" in out and out.count("allocated early") == 1
    assert err == ""  # its line says so


def test_commands_that_read_an_early_allocated_dataset_warn_of_it(tmp_path):
    """Rows 4,000-7,999 of X were never written and read as zeros: train, evaluate and predict did so without a
    word, where info said it.  Each now warns, once, however often it opens the table (one line for the datasets
    a table reads, naming the first); --allow-unwritten (the file was checked where it was written) silences
    it."""
    with h5py.File(tmp_path / "early.h5", "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((1000, 5))
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        h5py.h5d.create(f.id, b"X", h5py.h5t.IEEE_F32LE, h5py.h5s.create_simple((8000, 5)), dcpl=dcpl)
        f["X"][:4000] = np.random.default_rng(0).standard_normal((4000, 5))
        f["y"] = np.arange(8000) % 2
    path, model = tmp_path / "early.h5", tmp_path / "m.h5"
    warned = (f"sgdcli: warning: {path}:X: allocated when it was created (parallel HDF5, or H5D_ALLOC_TIME_EARLY), "
              "so rows never written cannot be told from written ones and would be read as its fill value; check "
              "the file where it is written (--allow-unwritten: it was)")
    for argv in (["train", path, "-o", model, "--epochs", "1"], ["evaluate", model, path],
                 ["predict", model, path, "-o", tmp_path / "p.h5"]):
        code, _, err = cli(*argv, "-q") if argv[0] == "train" else cli(*argv)
        assert code == 0 and err.splitlines().count(warned) == 1, err
        assert "allocated when" not in cli(*argv, "--allow-unwritten")[2]


WRITER = """
import sys, time
import h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    X = f.create_dataset("X", shape=(100_000, 8), chunks=(1000, 8), dtype="f4")
    y = f.create_dataset("y", shape=(100_000,), chunks=(1000,), dtype="i8")
    rng = np.random.default_rng(0)
    for start in range(0, 40_000, 1000):
        X[start:start + 1000] = rng.standard_normal((1000, 8))
        y[start:start + 1000] = rng.integers(0, 2, 1000)
    f.flush()
    print("written", flush=True)
    time.sleep(60)  # killed here, mid-file, as a crashed export job is
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_mid_file_leaves_a_file_that_is_refused(tmp_path):
    path = tmp_path / "export.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5")
    assert code == 2 and "export.h5:X: rows 40,000–99,999 were never written (60 of 100 chunks unallocated)" in err, err
    assert not (tmp_path / "m.h5").exists()


def _unwrite_half(f, path, chunk):
    """``path`` of ``f`` made again as a writer that pre-allocates it and dies half-way leaves it: chunked, the
    same type and attributes, only its first half written."""
    old = f[path]
    values, attrs = old[()], dict(old.attrs)
    del f[path]
    new = f.create_dataset(path, shape=values.shape, dtype=old.dtype, chunks=(chunk,))
    new[: len(values) // 2] = values[: len(values) // 2]
    new.attrs.update(attrs)


def test_an_anndata_nullable_columns_mask_is_checked_as_its_values_are(tmp_path):
    """A nullable column is values and mask: a mask never written reads as fill values, all False (nothing
    missing), so the labels it should mask were trained on (values were checked, the mask was not); the
    categories of a categorical, read whole as names, are checked too (a fill value read as a class)."""
    ad, pd = (pytest.importorskip(m) for m in ("anndata", "pandas"))
    n = 4000
    X, y = make_problem("multiclass", n=n, d=4, k=4, seed=2)
    missing = np.arange(n) % 7 == 3
    obs = pd.DataFrame(index=[f"c{i}" for i in range(n)])
    obs["integer"] = pd.array(np.where(missing, None, y % 2), dtype="Int64")
    obs["boolean"] = pd.array(np.where(missing, None, y % 2 == 1), dtype="boolean")
    obs["text"] = pd.array(np.where(missing, None, np.where(y % 2 == 1, "yes", "no")), dtype="string")
    obs["weight"] = pd.array(np.where(missing, None, 1), dtype="Int64")
    obs["kind"] = pd.Categorical(np.array(list("abcd"))[y])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad.settings.allow_write_nullable_strings = True
        ad.AnnData(X, obs=obs).write_h5ad(tmp_path / "n.h5ad", convert_strings_to_categoricals=False)
    with h5py.File(tmp_path / "n.h5ad", "a") as f:
        for column in ("integer", "boolean", "text", "weight"):
            _unwrite_half(f, f"obs/{column}/mask", 1000)
        _unwrite_half(f, "obs/kind/categories", 2)
        f["y"] = y % 2  # labels written whole, for the weights
    data = tmp_path / "n.h5ad"
    mask = "rows 2,000–3,999 were never written (2 of 4 chunks unallocated); the file looks incomplete"
    model = tmp_path / "m.h5"
    assert cli("train", write_table(tmp_path / "plain.h5", X, y % 2), "-o", model, "-q")[0] == 0
    for column in ("integer", "boolean", "text", "integer/values"):
        said = f"{data}:obs/{column.split('/')[0]}/mask: {mask} (--allow-unwritten reads their fill values)"
        for args in (["train", data, "--y", f"obs/{column}", "--bad-rows", "skip", "-o", tmp_path / "x.h5"],
                     ["evaluate", model, data, "--y", f"obs/{column}"]):
            code, out, err = cli(*args)
            assert code == 2 and err.strip() == f"sgdcli: error: {said}", (args, err)
    code, out, err = cli("train", data, "--y", "obs/integer", "--bad-rows", "skip", "--allow-unwritten",
                         "-o", tmp_path / "x.h5")
    assert code == 0 and f"--allow-unwritten: 2,000 rows of {data} are read from fill values" in err, err
    code, out, err = cli("train", data, "--y", "y", "--sample-weight", "obs/weight", "-o", tmp_path / "x.h5")
    assert code == 2 and f"--sample-weight: {data}:obs/weight/mask: {mask}\n" in err, err
    code, out, err = cli("train", data, "--y", "obs/kind", "--model", "softmax", "-o", tmp_path / "x.h5")
    assert code == 2 and err.strip() == (f"sgdcli: error: {data}:obs/kind/categories: categories 2–3 were never "
                                         "written (1 of 2 chunks unallocated); the file looks incomplete"), err


def test_one_unwritten_category_is_worded_as_one(tmp_path):
    """'category 1 were never written': the verb follows the count."""
    ad, pd = (pytest.importorskip(m) for m in ("anndata", "pandas"))
    X, y = make_problem("binary", n=200, d=3, seed=2)
    obs = pd.DataFrame({"kind": pd.Categorical(np.array(["a", "b"])[y])}, index=[f"c{i}" for i in range(200)])
    ad.AnnData(X, obs=obs).write_h5ad(tmp_path / "n.h5ad")
    with h5py.File(tmp_path / "n.h5ad", "a") as f:
        _unwrite_half(f, "obs/kind/categories", 1)
    code, _, err = cli("train", tmp_path / "n.h5ad", "--y", "obs/kind", "-o", tmp_path / "m.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'n.h5ad'}:obs/kind/categories: category 1 was "
                                      "never written (1 of 2 chunks unallocated); the file looks incomplete")
