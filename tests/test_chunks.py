"""Compressed chunks decoded in parallel give exactly what h5py reads."""

import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from sgdcli.data import chunks, layout
from sgdcli.data.table import Table
from sgdcli.errors import InputError

from conftest import RSS_SAMPLER, make_problem, run, short_fits, write_table


def write(path, data, **kw):
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=data, **kw)
        f.create_dataset("y", data=np.arange(len(data)) % 2, chunks=(7,), compression="gzip")
    return str(path)


CASES = {
    "gzip": dict(chunks=(64, 6), compression="gzip", compression_opts=1),
    "gzip+shuffle": dict(chunks=(50, 6), compression="gzip", shuffle=True),
    "column chunks": dict(chunks=(40, 4), compression="gzip", shuffle=True),  # 6 features: a ragged last column chunk
    "big-endian float64": dict(chunks=(33, 6), compression="gzip", dtype=">f8"),
    "int16": dict(chunks=(64, 6), compression="gzip", shuffle=True, dtype="i2"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_decoded_rows_equal_h5py(tmp_path, case):
    kw = dict(CASES[case])
    dtype = kw.pop("dtype", "f4")
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((301, 6)) * 100).astype(dtype)  # 301 rows: the last row chunk is partial
    path = write(tmp_path / "d.h5", data, **kw)
    with Table(path) as table:
        assert table.X.layout.read_mode == layout.PARALLEL_DECODE
        for start, stop in [(0, 301), (5, 17), (60, 70), (299, 301), (128, 256)]:
            got = table.X.read(start, stop, np.full((400, 6), np.nan, dtype=np.float32))
            np.testing.assert_array_equal(got, data[start:stop].astype(np.float32))
        np.testing.assert_array_equal(table.Y.read(0, 301, None), np.arange(301) % 2)


def test_unwritten_column_chunks_decode_as_hdf5_reads_them(tmp_path):
    """The decoder knows which chunks are written from one walk of the chunk index: per row chunk and column
    chunk, the last ones ragged."""
    path = tmp_path / "d.h5"
    rng = np.random.default_rng(2)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("X", shape=(301, 6), dtype="f4", chunks=(40, 4), compression="gzip", fillvalue=-7.0)
        ds[:, :4] = rng.standard_normal((301, 4))  # column chunk 1 (features 4, 5) written only in rows 80-119
        ds[80:120, 4:] = 3.0
        expected = ds[()]
    with Table(str(path), y=None, allow_unwritten=True) as table:
        assert table.X.layout.read_mode == layout.PARALLEL_DECODE
        for start, stop in [(0, 301), (75, 125), (290, 301)]:
            np.testing.assert_array_equal(table.X.read(start, stop, None), expected[start:stop])


def test_unwritten_chunks_read_as_the_fill_value(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("X", shape=(200, 3), dtype="f4", chunks=(50, 3), compression="gzip", fillvalue=2.5)
        ds[60:80] = 1.0  # only the second chunk is ever written
    with pytest.raises(InputError, match=r"d.h5:X: rows 0–49 and 100 more rows were never written \(3 of 4 chunks "
                                         r"unallocated\); the file looks incomplete"):
        Table(str(path), y=None)
    with Table(str(path), y=None, allow_unwritten=True) as table:  # read knowingly: the fill value
        assert table.unwritten_rows == 150
        got = table.X.read(0, 200, None)
    expected = np.full((200, 3), 2.5, dtype=np.float32)
    expected[60:80] = 1.0
    np.testing.assert_array_equal(got, expected)


def test_a_chunk_stored_without_its_filter_is_read_as_is(tmp_path):
    """HDF5 may store a chunk unfiltered (its filter mask says so); the raw bytes are then the data."""
    path = tmp_path / "d.h5"
    data = np.arange(40, dtype="f4").reshape(20, 2)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("X", shape=(20, 2), dtype="f4", chunks=(10, 2), compression="gzip")
        ds[0:10] = data[0:10]
        ds.id.write_direct_chunk((10, 0), data[10:20].tobytes(), filter_mask=1)
    with Table(str(path), y=None) as table:
        np.testing.assert_array_equal(table.X.read(0, 20, None), data)


def test_other_filters_are_left_to_hdf5(tmp_path):
    X, y = make_problem(n=100, d=3)
    path = write(tmp_path / "d.h5", X, chunks=(10, 3), compression="lzf")
    with h5py.File(path) as f:
        assert not chunks.parallel_decodable(f["X"])
        assert chunks.parallel_decodable(f["y"])
    with Table(path) as table:
        assert table.X.layout.read_mode == "chunk-aligned blocks"
        np.testing.assert_array_equal(table.X.read(0, 100, None), X)


def test_a_corrupt_chunk_is_one_line_naming_file_dataset_and_rows(tmp_path):
    X, y = make_problem(n=400, d=4)
    path = write_table(tmp_path / "d.h5", X, y, chunks=100, compression="gzip")
    with h5py.File(path, "r+") as f:
        mask, raw = f["X"].id.read_direct_chunk((200, 0))
        f["X"].id.write_direct_chunk((200, 0), raw[: len(raw) // 2] + b"\0" * (len(raw) - len(raw) // 2), filter_mask=mask)
    proc = run("train", path, "-o", tmp_path / "m.h5", "--epochs", "1")
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors == [f"sgdcli: error: {path}:X: cannot read rows 200-300 (incomplete or truncated stream)"]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "m.h5").exists()


def test_training_on_gzip_equals_training_on_contiguous(tmp_path):
    X, y = make_problem(n=3000, d=5, seed=4)
    plain = write_table(tmp_path / "plain.h5", X, y)
    packed = write_table(tmp_path / "packed.h5", X, y, chunks=256, compression="gzip")
    for path, out in [(plain, "a.h5"), (packed, "b.h5")]:
        # in file order: the page shuffle reads gzip chunks whole, so its order differs (test_data.py)
        run("train", path, "-o", tmp_path / out, "--epochs", "2", "--memory", "1M", "--threads", "2", "--no-shuffle",
            check=True)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a["weights"][()], b["weights"][()])


def test_unfiltered_chunks_stored_in_order_are_read_in_place(tmp_path):
    X, y = make_problem(n=1000, d=4)
    path = write_table(tmp_path / "d.h5", X, y, chunks=64)
    buf = np.empty((1000, 4), dtype=np.float32)
    with Table(path) as table:
        assert table.X.layout.read_mode == layout.MAPPED_CHUNKS
        for start, stop in [(0, 1000), (64, 640), (100, 101), (960, 1000)]:
            got = table.X.read(start, stop, buf)
            np.testing.assert_array_equal(got, X[start:stop])
            assert not np.shares_memory(got, buf)  # a view on the file, not a copy
        np.testing.assert_array_equal(table.Y.read(0, 1000, None), y)


def test_a_large_chunk_is_mapped_without_a_copy_of_it(tmp_path):
    """Opening checks the map against HDF5's reads of a chunk's first and last rows, not of the whole chunk,
    whose two copies came before --memory could refuse a chunk larger than the budget."""
    import tracemalloc

    X = np.random.default_rng(0).standard_normal((2500, 1000)).astype(np.float32)  # one chunk of 10 MB
    for partial in (False, True):  # a chunk larger than the dataset: its last row inside, not the chunk's
        path = tmp_path / f"one{partial}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("X", data=X, chunks=(4096 if partial else 2500, 1000), maxshape=(None, 1000))
        with Table(str(path), y=None):
            pass  # imports and compiles what the next opening reuses
        tracemalloc.start()
        try:
            with Table(str(path), y=None) as table:
                peak = tracemalloc.get_traced_memory()[1]
                assert table.X.layout.read_mode == layout.MAPPED_CHUNKS
                np.testing.assert_array_equal(table.X.read(2000, 2500, None), X[2000:])
        finally:
            tracemalloc.stop()
        assert peak < X.nbytes / 10


@pytest.mark.parametrize("shape,chunk", [((1000, 3), (1, 3)), ((997, 3), (7, 3)), ((500,), (4,))])
def test_chunk_offsets_are_those_hdf5_gives_chunk_by_chunk(tmp_path, shape, chunk):
    """One walk of the chunk index finds each chunk where a query per chunk (which cost time in proportion to
    the number of chunks, so a file of one-row chunks took minutes to open) finds it; unwritten ones are -1."""
    with h5py.File(tmp_path / "c.h5", "w") as f:
        ds = f.create_dataset("X", shape=shape, maxshape=(None, *shape[1:]), chunks=chunk, dtype="f4")
        ds[: shape[0] // 2] = 1.0
        ds[shape[0] - 3 :] = 2.0  # chunks in between are never written
    with h5py.File(tmp_path / "c.h5") as f:
        ds = f["X"]
        tail = (0,) * (ds.ndim - 1)
        naive = [ds.id.get_chunk_info_by_coord((k * chunk[0], *tail)).byte_offset for k in
                 range(-(-shape[0] // chunk[0]))]
        expected = [-1 if offset is None else offset for offset in naive]
        assert -1 in expected and chunks.chunk_offsets(ds).tolist() == expected


def test_chunks_stored_out_of_order_or_missing_are_still_read_exactly(tmp_path):
    """Chunks interleaved with another dataset's, or never written, fall back to HDF5 reads."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((500, 3)).astype(np.float32)
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        dx = f.create_dataset("X", shape=(500, 3), dtype="f4", chunks=(50, 3), fillvalue=-1.0)
        dz = f.create_dataset("Z", shape=(500, 3), dtype="f4", chunks=(50, 3))
        for s in (300, 0, 50, 400, 100, 150, 450):  # out of order, interleaved with Z; 200-299 and 350-399 never written
            dx[s : s + 50] = X[s : s + 50]
            dz[s : s + 50] = 0.0
    expected = X.copy()
    expected[200:300] = -1.0
    expected[350:400] = -1.0
    with Table(str(path), y=None, allow_unwritten=True) as table:
        assert table.X.layout.read_mode == layout.MAPPED_CHUNKS
        for start, stop in [(0, 500), (0, 100), (50, 150), (180, 420), (450, 500)]:
            np.testing.assert_array_equal(table.X.read(start, stop, None), expected[start:stop])


@short_fits
def test_gzip_training_leaves_the_decoders_their_cores_and_others_the_reader_one_unless_told(tmp_path):
    from sgdcli import train
    from sgdcli.options import TrainOptions

    X, y = make_problem(n=2000, d=4)
    packed = write_table(tmp_path / "g.h5", X, y, chunks=256, compression="gzip")
    plain = write_table(tmp_path / "p.h5", X, y)
    import numba

    cores = min(len(os.sched_getaffinity(0)), numba.config.NUMBA_NUM_THREADS)
    assert train(packed, TrainOptions(epochs=1)).training["threads"] == max(1, cores - min(cores, chunks.MAX_WORKERS))
    assert train(plain, TrainOptions(epochs=1)).training["threads"] == max(1, cores - 1)  # one for the reader
    assert train(packed, TrainOptions(epochs=1, threads=2)).training["threads"] == 2


def write_scattered(path, X, y, chunk_rows, seed=0, pad=False):
    """A chunked file whose X chunks are stored in a random order: no block can be mapped as one array.

    With ``pad``, a few bytes of another dataset are written between X's chunks, so that they start at
    offsets that are not a whole number of rows apart.
    """
    with h5py.File(path, "w") as f:
        dx = f.create_dataset("X", shape=X.shape, dtype=X.dtype, chunks=(chunk_rows, X.shape[1]))
        f.create_dataset("y", data=y, chunks=(chunk_rows,))
        padding = f.create_dataset("pad", shape=(len(X),), dtype=np.uint8, chunks=(4,)) if pad else None
        for k, s in enumerate(np.random.default_rng(seed).permutation(np.arange(0, len(X), chunk_rows))):
            dx[s : s + chunk_rows] = X[s : s + chunk_rows]
            if padding is not None:
                padding[4 * k : 4 * k + 4] = k
                f.flush()
    return str(path)


def test_rows_of_scattered_chunks_are_copied_in_the_order_asked(tmp_path):
    X, y = make_problem(n=3000, d=7, seed=2)
    path = write_scattered(tmp_path / "s.h5", X, y, 100)
    with Table(path) as table:
        assert table.X.random_access
        order = np.random.default_rng(1).permutation(1000)[:900]
        np.testing.assert_array_equal(table.X.gather(250, order, None), X[250 + order])
        buf = np.empty((1000, 7), dtype=np.float32)
        got = table.X.gather(0, order[::-1].copy(), buf)
        assert np.shares_memory(got, buf)
        np.testing.assert_array_equal(got, X[order[::-1]])


def test_a_dataset_with_a_missing_chunk_is_read_through_hdf5(tmp_path):
    """Rows anywhere cannot be read in place: the shuffle reads whole chunks, and HDF5 gives the fill value."""
    with h5py.File(tmp_path / "m.h5", "w") as f:
        dx = f.create_dataset("X", shape=(500, 3), dtype="f4", chunks=(50, 3), fillvalue=-1.0)
        for s in (300, 0, 50, 400, 100, 150, 450):  # 200-299 and 350-399 never written
            dx[s : s + 50] = 1.0
    with Table(str(tmp_path / "m.h5"), y=None, allow_unwritten=True) as table:
        assert not table.X.random_access and table.X.in_place() is None and table.unit_rows == 50
        np.testing.assert_array_equal(table.X.read(190, 210, None)[:, 0], [1.0] * 10 + [-1.0] * 10)


@pytest.mark.parametrize("args", [["--threads", "1"], ["--threads", "2"], ["--threads", "2", "--parallel", "average"],
                                  ["--threads", "1", "--val-fraction", "0.2", "--standardize", "--batch-size", "1"]])
def test_training_on_scattered_chunks_equals_training_on_chunks_in_order(tmp_path, args):
    """Rows read in place from chunks wherever they lie are the same rows in the same order: the same model,
    bit for bit."""
    X, y = make_problem(n=20000, d=10, seed=3)
    scattered = write_scattered(tmp_path / "s.h5", X, y, 512)
    in_order = write_table(tmp_path / "o.h5", X, y, chunks=512)
    for path, out in [(scattered, "a.h5"), (in_order, "b.h5")]:
        run("train", path, "-o", tmp_path / out, "--epochs", "2", "--memory", "1M", "-q", *args, check=True)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        for key in ("weights", "bias"):
            assert a[key][()].tobytes() == b[key][()].tobytes()


def test_a_bad_value_names_its_file_row_however_the_rows_are_read(tmp_path):
    """In place (chunks scattered or in order), copied in visiting order (float64), decoded (gzip)."""
    X, y = make_problem(n=20000, d=10, seed=3)
    X[12345, 4] = np.nan
    paths = [write_scattered(tmp_path / "s.h5", X, y, 512), write_table(tmp_path / "o.h5", X, y, chunks=512),
             write_table(tmp_path / "f.h5", X.astype(np.float64), y),
             write_table(tmp_path / "g.h5", X, y, chunks=512, compression="gzip")]
    for path in paths:
        proc = run("train", path, "-o", tmp_path / "m.h5", "--memory", "1M", "--threads", "1", "-q")
        assert proc.returncode == 2
        wide = (" (NaN or infinite, or beyond float32's range of ±3.4e38: features are read as float32)"
                if path.endswith("f.h5") else "")  # float64 X
        assert proc.stderr == f"sgdcli: error: {path}:X: non-finite feature value at row 12345, column 4{wide}\n"
        skipped = run("train", path, "-o", tmp_path / "m.h5", "--memory", "1M", "--bad-rows", "skip", "-q",
                      "--metrics", tmp_path / "m.jsonl")
        assert skipped.returncode == 0, skipped.stderr
        assert json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])["bad_rows"] == 1


@pytest.mark.parametrize("layout", ["scattered chunks", "float64"])
def test_a_run_stopped_mid_window_resumes_to_the_straight_model(tmp_path, layout):
    """Rows read in place from scattered chunks, or copied in visiting order (float64)."""
    import signal
    import subprocess
    import sys

    X, y = make_problem(n=20000, d=10, seed=3)
    if layout == "float64":
        path = write_table(tmp_path / "s.h5", X.astype(np.float64), y)
    else:
        path = write_scattered(tmp_path / "s.h5", X, y, 512)
    args = [sys.executable, "-m", "sgdcli", "train", path, "--memory", "1M", "--threads", "1", "--batch-size", "8",
            "--epochs", "2"]
    subprocess.run([*args, "-o", str(tmp_path / "straight.h5"), "-q"], check=True)
    env = {**os.environ, "SGDCLI_SLICE_ROWS": "1000", "SGDCLI_TEST_SAFE_POINT_DELAY": "0.05"}
    out = str(tmp_path / "resumed.h5")
    proc = subprocess.Popen([*args, "-o", out], stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if "training on" in line:
            break
    time.sleep(0.6)  # 40 slices of 1,000 rows, 50 ms each: inside the first epoch's blocks
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    from sgdcli.training.checkpoint import load_latest

    assert load_latest(out + ".ckpt").position.epoch == 0  # stopped inside the first epoch (7 in 8 times inside a block)
    subprocess.run([*args, "-o", out, "--resume", "-q"], check=True, env=env)
    with h5py.File(tmp_path / "straight.h5") as a, h5py.File(out) as b:
        for key in ("weights", "bias"):
            assert a[key][()].tobytes() == b[key][()].tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "uint64", "int8", "uint8"])
def test_labels_of_mapped_datasets_are_taken_in_any_order_as_numpy_converts_them(tmp_path, dtype):
    """The reader takes each window's labels from the map in visiting order (contiguous, or chunked), as float64
    converted the way ``astype`` converts (integers beyond 2**53 round the same), into a buffer it reuses."""
    X, _ = make_problem(n=3000, d=3, seed=2)
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 3000).astype(dtype)
    if dtype in ("int64", "uint64"):
        y = y + np.array(2**62 + 1, dtype=dtype) * (rng.integers(0, 2, 3000) if dtype == "int64" else 3)
    rows = rng.permutation(3000)[:2500]
    for chunked in (None, (128,)):
        path = tmp_path / f"{dtype}-{bool(chunked)}.h5"
        with h5py.File(path, "w") as f:
            f["X"] = X
            f.create_dataset("y", data=y, chunks=chunked)
        with Table(path) as table:
            assert table.Y.random_access
            np.testing.assert_array_equal(table.Y.take(rows), y[rows].astype(np.float64))
            buf = np.full(3000, np.nan)
            got = table.Y.take(rows, buf)
            assert np.shares_memory(got, buf)
            np.testing.assert_array_equal(got, y[rows].astype(np.float64))


def test_every_row_of_mapped_chunks_is_read_in_place_wherever_the_chunks_lie(tmp_path):
    """Chunks in order, scattered, or with other data between them (rows then start at any element offset):
    every row is read from the map itself, at its element offset."""
    X, y = make_problem(n=3000, d=7, seed=2)
    rows = np.random.default_rng(3).permutation(3000)
    layouts = {
        "contiguous": write_table(tmp_path / "c.h5", X, y),
        "in order": write_table(tmp_path / "o.h5", X, y, chunks=100),
        "scattered": write_scattered(tmp_path / "s.h5", X, y, 100),
        "interleaved": write_scattered(tmp_path / "i.h5", X, y, 100, pad=True),
    }
    residues = {}
    for name, path in layouts.items():
        with Table(path) as table:
            flat = table.X.in_place()
            at = table.X.place(rows)
            assert flat is not None and flat.ndim == 1 and table.X.random_access, name
            np.testing.assert_array_equal(flat[at[:, None] + np.arange(7)], X[rows], err_msg=name)
            buf = np.full(3000, -1, dtype=np.int64)
            assert np.shares_memory(table.X.place(rows, buf), buf) and np.array_equal(buf, at)
            residues[name] = len(np.unique(table.X.place(np.arange(0, 3000, 100)) % 7))
    assert residues["interleaved"] > 1  # the case that needs element offsets


CHUNK_CHECK_PEAK = RSS_SAMPLER + """
from sgdcli.data.table import Table
with Table(sys.argv[1]) as table:  # (the interpreter, NumPy, h5py and the table's classes loaded)
    expected = table.Y.read(0, table.n_rows, None).copy()  # the same labels, contiguous
time.sleep(0.05)
before = peak[0]
with Table(sys.argv[2]) as table:
    assert table.Y.layout.read_mode == sys.argv[3], table.Y.layout.read_mode
    assert (table.Y.read(0, table.n_rows, None) == expected).all()  # int64 as float64: through HDF5
time.sleep(0.05)
print(peak[0] - before)
"""


def test_the_check_of_a_mapped_index_holds_memory_of_a_few_chunks_not_of_every_chunk(tmp_path):
    """Opening memory-mapped chunks reads the first row of each through HDF5 (chunks.misplaced), and labels of
    another type are read through HDF5, which holds a few KiB for each chunk one read touches: one read of all
    65,536 one-row chunks of y took over 400 MiB.  A read touches at most CHUNKS_PER_READ, so opening the file
    and reading its labels take a few MiB more than a file of one chunk."""
    X, y = make_problem(n=65_536, d=2)
    small = write_table(tmp_path / "one.h5", X, y)
    with h5py.File(tmp_path / "many.h5", "w") as f:
        f["X"] = X
        f.create_dataset("y", data=y, chunks=(1,))
    out = subprocess.run([sys.executable, "-c", CHUNK_CHECK_PEAK, str(small), str(tmp_path / "many.h5"),
                          layout.MAPPED_CHUNKS], capture_output=True, text=True, check=True).stdout
    assert int(out) < 64 * 2**20, int(out) / 2**20
