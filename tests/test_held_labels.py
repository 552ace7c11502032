"""Labels and weights in read units taller than the features' are held whole where --memory spares them
(data/held.py): they no longer make every block that tall, and the refusals name the least --memory under that
rule (data/budget.py)."""

import math
import re

import h5py
import numpy as np
import pytest

from sgdcli.data import chunks
from sgdcli.data.held import HELD_SHARE
from sgdcli.data.table import Table

from conftest import cli

ROWS, FEATURES = 20_480, 200  # a column held: 160 KiB


@pytest.fixture
def decoded(monkeypatch):
    """The rows of every gzip chunk read by the parallel decoder, by dataset."""
    seen = {}
    real = chunks.ChunkDecoder.read_many

    def read_many(self, jobs):
        seen.setdefault(self.ds.name, []).extend(b - a for a, b, _ in jobs)
        return real(self, jobs)

    monkeypatch.setattr(chunks.ChunkDecoder, "read_many", read_many)
    return seen


def _write(path, label_chunks, rows=ROWS):
    """X in gzip chunks of 64 rows (as a Loom file's), the labels and weights in gzip chunks of
    ``label_chunks`` rows (None: contiguous, read in place)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, FEATURES)).astype(np.float32)
    packed = {"chunks": label_chunks, "compression": "gzip"} if label_chunks else {}
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=X, chunks=(64, FEATURES), compression="gzip")
        f.create_dataset("y", data=(X[:, :5].sum(axis=1) > 0).astype(np.int64), **packed)
        f.create_dataset("w", data=rng.uniform(0.5, 2.0, rows), **packed)
    return str(path)


def _weights(path):
    with h5py.File(path) as f:
        return {name: f[name][()] for name in ("weights", "bias", "center", "scale")}


def _named(err: str) -> str:
    return re.fullmatch(r"sgdcli: error: .*; raise --memory to at least (\d+M)\n", err)[1]


@pytest.mark.parametrize("weighted", [False, True])
def test_labels_in_tall_chunks_train_the_model_of_labels_read_in_place(tmp_path, decoded, weighted):
    """X in 64-row chunks, labels (and weights) in gzip chunks of 10,000 rows: two blocks of those rows of
    every feature took 32 MiB, and --memory 8M was refused.  Held whole, the labels let the blocks be X's own
    chunks: the run trains, on the very model of the same labels stored contiguous, given the budget that the
    blocks keep (the same blocks and read units, so the same sums and visit order; and the same rate, which
    the rate's search would choose on a sample that --memory sizes), and each of their chunks is decoded
    once a run, not once a pass."""
    tall, plain = _write(tmp_path / "tall.h5", (10_000,)), _write(tmp_path / "plain.h5", None)
    extra = ["--sample-weight", "w"] if weighted else []
    held = (2 if weighted else 1) * ROWS * 8 >> 10
    for path, memory in ((tall, "8M"), (plain, f"{8192 - held}K")):
        code, _, err = cli("train", path, "-o", f"{path}.model", "--memory", memory, "--epochs", "2", "--seed", "3",
                           "--lr", "0.05", "-q", *extra)
        assert code == 0, err
    mine, theirs = _weights(f"{tall}.model"), _weights(f"{plain}.model")
    assert all(np.array_equal(mine[name], theirs[name]) for name in mine)
    assert decoded["/y"] == [ROWS] and decoded.get("/w", [ROWS] if weighted else []) == ([ROWS] if weighted else [])
    code, out, err = cli("evaluate", f"{tall}.model", tall, "--memory", "2M")
    assert code == 0 and out == cli("evaluate", f"{plain}.model", plain, "--memory", "2M")[1], err


def test_the_table_holds_them_only_where_the_budget_spares_them(tmp_path):
    """Columns held take at most 1/HELD_SHARE of --memory, and only where the blocks fit beside them: holding
    the labels alone leaves two blocks of the weights' chunks' rows (18 MB), which 5 MB does not hold."""
    path = _write(tmp_path / "tall.h5", (10_000,))
    values = ROWS * 8
    with Table(path, sample_weight="w", memory=HELD_SHARE * 2 * values) as table:
        assert table.held == ["y", "w"] and table.held_bytes == 2 * values and table.unit_rows == 64
    with Table(path, sample_weight="w", memory=HELD_SHARE * 2 * values - 1) as table:
        assert table.held == [] and table.held_bytes == 0 and table.unit_rows == math.lcm(64, 10_000)
    with Table(path, memory=HELD_SHARE * values) as table:
        assert table.held == ["y"] and table.unit_rows == 64
    with Table(path, memory=HELD_SHARE * values - 1) as table:
        assert table.held == [] and table.unit_rows == math.lcm(64, 10_000)
    with Table(_write(tmp_path / "plain.h5", None), memory=1 << 30) as table:  # in place already
        assert table.held == [] and table.unit_rows == 64


def test_labels_too_long_to_hold_are_refused_naming_the_least_memory(tmp_path, decoded):
    """X in small chunks, y in one gzip chunk of every row: each block of X would decode all of y again, so a
    block is all of y's rows (27 MiB at --memory 1M).  Holding y takes 1 MiB, more than its share of 1M: the
    refusal names the --memory that holds it, below what blocks of its chunk need; --val files too."""
    rows = 1 << 17
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((rows, 4)).astype(np.float32), (rng.random(rows) > 0.5).astype(np.float64)
    path, plain = str(tmp_path / "y.h5"), str(tmp_path / "plain.h5")
    for name, label_chunks in ((path, (rows,)), (plain, None)):
        with h5py.File(name, "w") as f:
            f.create_dataset("X", data=X, chunks=(512, 4), compression="gzip")
            f.create_dataset("y", data=y, chunks=label_chunks, compression="gzip" if label_chunks else None)
    least = -(-HELD_SHARE * rows * 8 >> 20)  # y held at its share, the blocks of X's chunks beside it
    for k, command in enumerate((["train", path], ["train", plain, "--val", path])):  # --val: before an epoch
        decoded.clear()
        model = tmp_path / f"m{k}.h5"
        code, _, err = cli(*command, "-o", model, "--memory", "1M")
        assert (code, err) == (2, "sgdcli: error: --memory: 1.0 MiB cannot hold 2 blocks of whole chunks of "
                                  f"{path}:y ({rows:,} rows a chunk); raise --memory to at least {least}M\n")
        assert "/y" not in decoded and not model.exists()
        assert _named(cli(*command, "-o", model, "--memory", f"{least - 1}M")[2]) == f"{least}M"
        code, _, err = cli(*command, "-o", model, "--memory", f"{least}M", "--epochs", "1", "-q")
        assert code == 0, err


def test_parallel_average_threads_read_them_in_blocks(tmp_path):
    """Each thread streams its own share of --memory: the threads' tables hold none, and their refusal names
    what their shares need of blocks of the labels' chunks, as before."""
    path = _write(tmp_path / "tall.h5", (10_000,))
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--memory", "8M", "--parallel", "average",
                       "--threads", "2", "-q")
    assert code == 2 and "split between the 2 threads" in err and f"{path}:y" in err, err
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--memory", _named(err.replace(
        " or lower --threads", "")), "--parallel", "average", "--threads", "2", "-q", "--epochs", "1")
    assert code == 0, err


def _least_trains(args: list, given: str) -> str:
    """The --memory that a refusal at ``given`` names, checked to train, and the MiB below it to be refused."""
    code, _, err = cli(*args, "--memory", given)
    assert code == 2, err
    named = _named(err.replace(" or lower --threads", ""))
    assert cli(*args, "--memory", named)[0] == 0
    assert cli(*args, "--memory", f"{int(named[:-1]) - 1}M")[0] == 2
    return named


def test_a_csr_matrix_s_heaviest_row_counts_in_the_figure_named(tmp_path):
    """Labels held beside a CSR matrix one of whose rows holds 400,000 entries: the figure named for the blocks
    left that row out (7M), which was then refused for two copies of it (11M)."""
    rows, heavy = 200_000, 400_000
    lengths = np.ones(rows, dtype=np.int64)
    lengths[100] = heavy
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "heavy.h5", "w") as f:
        g = f.create_group("X")
        g.attrs["encoding-type"], g.attrs["encoding-version"], g.attrs["shape"] = "csr_matrix", "0.1.0", (rows, heavy)
        g["data"] = rng.random(int(indptr[-1]), dtype=np.float32)
        g["indices"] = np.concatenate([np.arange(n) for n in lengths]).astype(np.int32)
        g["indptr"] = indptr
        f.create_dataset("y", data=(rng.random(rows) > 0.5).astype(np.int8), chunks=(65_536,), compression="gzip")
    args = ["train", tmp_path / "heavy.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--lr", "0.05"]
    heaviest = 2 * (heavy * 12 + 16 + 1) + 160  # two copies: entries (value, column), offset and label, bookkeeping
    assert int(_least_trains(args, "2M")[:-1]) == -(-(heaviest + rows * 8) >> 20)


def test_one_thread_of_parallel_average_is_told_the_memory_it_needs_at_once(tmp_path):
    """The threads read the labels in blocks: the figure named is what blocks of their chunks need, not what
    the labels held would (each refusal asked for 1 MiB more)."""
    rows, features = 100_000, 50
    rng = np.random.default_rng(2)
    with h5py.File(tmp_path / "mid.h5", "w") as f:
        f.create_dataset("X", data=rng.standard_normal((rows, features), dtype=np.float32), chunks=(64, features),
                         compression="gzip")
        f.create_dataset("y", data=(rng.random(rows) > 0.5) * 1.0, chunks=(50_000,), compression="gzip")
        f.create_dataset("w", data=rng.random(rows) + 0.5, chunks=(8_192,), compression="gzip")
    named = _least_trains(["train", tmp_path / "mid.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--parallel",
                           "average", "--threads", "1", "--sample-weight", "w", "--lr", "0.05"], "8M")
    per_row = 2 * (features * 4 + 16) + 160  # a row of two blocks: its features, label and weight; bookkeeping
    assert named == f"{-(-50_000 * per_row >> 20)}M"  # two blocks of the labels' chunk


def test_a_val_file_s_blocks_leave_room_for_the_training_labels_held(tmp_path):
    """The training table's labels stay held while a --val file is scored: its blocks do without their bytes,
    so the --memory named for them is that much more than beside a training file whose labels are read in
    place (they took a quarter more than the budget at the peak)."""
    rows, features = 400_000, 20
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, (rows, features)).astype(np.float32)
    y = (X[:, 0] > X[:, 1]) * 1.0
    for name, label_chunks in (("tall", (100_000,)), ("plain", None)):
        with h5py.File(tmp_path / f"{name}.h5", "w") as f:
            f.create_dataset("X", data=X, chunks=(64, features), compression="gzip")
            f.create_dataset("y", data=y, chunks=label_chunks, compression="gzip" if label_chunks else None)
    with h5py.File(tmp_path / "val.h5", "w") as f:  # scored in blocks of its 60,000-row chunks: more than the
        f.create_dataset("X", data=X[:120_000], chunks=(60_000, features), compression="gzip")  # training needs
        f["y"] = y[:120_000]
    named = {name: _least_trains(["train", tmp_path / f"{name}.h5", "--val", tmp_path / "val.h5", "-o",
                                  tmp_path / "m.h5", "--epochs", "1", "-q", "--lr", "0.05"], "2M")
             for name in ("tall", "plain")}
    held = rows * 8
    assert int(named["tall"][:-1]) - int(named["plain"][:-1]) in (held >> 20, (held >> 20) + 1)


def test_the_rate_s_sample_leaves_room_for_the_labels_held(tmp_path):
    """The sample the rate is chosen on is read while the labels are held: the two fit --memory together."""
    from sgdcli.training.sampling import DENSE_SAMPLE_BYTES, sample_size

    memory = 8 << 20
    for name, label_chunks in (("tall", (10_000,)), ("plain", None)):
        with Table(_write(tmp_path / f"{name}.h5", label_chunks), memory=memory) as table:
            rows = sample_size(table, memory)
            assert rows * DENSE_SAMPLE_BYTES * (FEATURES + 1) + table.held_bytes <= memory
            assert (rows + 1) * DENSE_SAMPLE_BYTES * (FEATURES + 1) + table.held_bytes > memory
            assert table.held_bytes == (ROWS * 8 if name == "tall" else 0)
