"""CSR rows of very different lengths: blocks, windows and the --lr auto sample sized by the rows' own nonzeros
(data/csrblocks.py), not the file's average."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from sgdcli.data.table import BUFFERS, ROW_BOOKKEEPING, Table
from sgdcli.training import sampling

from conftest import RSS_SAMPLER, cli

ROWS, COLUMNS, HEAVY, LONG = 20_000, 1 << 16, 80, 50_000  # 80 rows of 50,000 nonzeros: 4M of the 4.06M


def write_csr(path, lengths, seed=0):
    rng = np.random.default_rng(seed)
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(COLUMNS, k, replace=False)) for k in lengths]).astype(np.int32)
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"] = (rng.standard_normal(len(indices)) * 0.01).astype(np.float32)
        g["indices"], g["indptr"] = indices, indptr
        g.attrs["shape"] = (len(lengths), COLUMNS)
        f["y"] = rng.integers(0, 2, len(lengths)).astype(np.float64)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same nonzeros, 80 heavy rows first (skew) or spread evenly (even)."""
    d = tmp_path_factory.mktemp("uneven")
    lengths = np.full(ROWS, 3)
    lengths[:HEAVY] = LONG
    skew = write_csr(d / "skew.h5", lengths)
    even = write_csr(d / "even.h5", np.full(ROWS, lengths.sum() // ROWS))
    return skew, even


def entries(table, a, b):
    ip = table.X.reader.indptr
    return int(ip[b]) - int(ip[a])


def in_flight(table, a, b, extra=BUFFERS * ROW_BOOKKEEPING):
    """Bytes rows [a, b) take in BUFFERS blocks, as Table.block_rows reckons an average row."""
    labels = table.row_bytes() - table.X.reader.row_bytes()
    return BUFFERS * (12 * entries(table, a, b) + (8 + labels) * (b - a)) + extra * (b - a)


def test_blocks_and_windows_of_heavy_rows_stay_within_the_budget(files):
    memory = 4 << 20
    with Table(files[0]) as t:
        spans = t.spans(t.block_rows(memory), memory)
        assert spans[0][0] == 0 and spans[-1][1] == ROWS and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        assert max(in_flight(t, a, b) for a, b in spans) <= memory
        pages = t.page_shuffle(memory, 16, seed=3, shuffle=True)
        for epoch in range(3):
            order = pages.extent_order(epoch)
            windows, sizes = pages.windows(order), pages.window_sizes(order)
            assert sum(sizes) == ROWS and sorted(np.concatenate(windows).tolist()) == list(range(pages.n_extents))
            for w in windows:
                runs = [(e * pages.extent_rows, min((e + 1) * pages.extent_rows, ROWS)) for e in w]
                assert sum(in_flight(t, a, b) for a, b in runs) <= memory


def test_rows_of_one_length_are_cut_as_before(files):
    """Where every row has the file's average length, blocks and windows are those of the average (so models
    trained on such files do not change)."""
    memory = 4 << 20
    with Table(files[1]) as t:
        rows = t.block_rows(memory)
        assert t.spans(rows, memory) == [(s, min(s + rows, ROWS)) for s in range(0, ROWS, rows)]
        pages = t.page_shuffle(memory, 16, seed=3, shuffle=True)
        order = pages.extent_order(0)
        k = pages.window_extents
        assert [w.tolist() for w in pages.windows(order)] == [order[s:s + k].tolist() for s in range(0, len(order), k)]


def test_the_lr_auto_sample_holds_at_most_the_nonzeros_of_as_many_average_rows(files):
    with Table(files[0]) as t:
        spans = sampling.sample_spans(t, sampling.DEFAULT_MEMORY)
        rows = sum(b - a for a, b in spans)
        sampled = sum(entries(t, a, b) for a, b in spans)
        assert 0 < sampled <= (sampling.SAMPLE_ROWS * t.X.reader.nnz) // ROWS and rows > sampling.SAMPLE_ROWS // 2
    with Table(files[1]) as t:
        assert sum(b - a for a, b in sampling.sample_spans(t, sampling.DEFAULT_MEMORY)) == sampling.SAMPLE_ROWS  # the whole sample, as before


def test_a_row_larger_than_the_budget_is_refused_with_the_memory_it_needs(files, tmp_path):
    """50,000 nonzeros take 1.2 MB in two buffers: not within --memory 1M, whatever else is.  Rather than
    break the bound, sgdcli says what it needs, as for a dense chunk larger than the budget."""
    assert cli("train", files[1], "-o", tmp_path / "m.h5", "--epochs", "1", "-q")[0] == 0
    for argv in (["train", files[0], "-o", tmp_path / "m2.h5"], ["evaluate", tmp_path / "m.h5", files[0]],
                 ["predict", tmp_path / "m.h5", files[0], "-o", tmp_path / "p.h5"]):
        code, _, err = cli(*argv, "--memory", "1M")
        assert (code, err.strip().splitlines()[-1]) == (2, (
            f"sgdcli: error: --memory: 1.0 MiB cannot hold 2 copies of row 0 of {files[0]}:X (50,000 nonzeros); "
            "raise --memory to at least 2M")), err


def test_runs_of_heavy_rows_too_short_for_the_runs_order_are_refused(files, tmp_path):
    """At 2M, the epoch's order of runs of 20,000 rows may take 128 KiB: runs of at least 2 rows, and two heavy
    rows pass the budget."""
    code, _, err = cli("train", files[0], "-o", tmp_path / "m.h5", "--memory", "2M")
    assert (code, err.strip().splitlines()[-1]) == (2, (
        f"sgdcli: error: --memory: 2.0 MiB cannot hold a window of rows 0-1 of {files[0]}:X (2.3 MiB in flight), "
        "and runs of fewer rows would make the epoch's order of runs pass its share of --memory; raise --memory "
        "to at least 4M")), err



def write_anndata(path, lengths, seed=0):
    """An AnnData file (anndata and scipy write it) of CSR rows of ``lengths`` nonzeros, a numeric target in obs."""
    ad = pytest.importorskip("anndata")
    pd, sparse = pytest.importorskip("pandas"), pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(seed)
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(COLUMNS, k, replace=False)) for k in lengths]).astype(np.int32)
    X = sparse.csr_matrix(((rng.standard_normal(len(indices)) * 0.01).astype(np.float32), indices, indptr),
                          shape=(len(lengths), COLUMNS))
    obs = pd.DataFrame({"y": rng.standard_normal(len(lengths))}, index=[f"c{i}" for i in range(len(lengths))])
    ad.AnnData(X=X, obs=obs).write_h5ad(path)
    return path


def test_under_parallel_average_a_heavy_row_is_refused_with_the_memory_its_threads_need(tmp_path):
    """--memory is split between the threads of --parallel average: a row of 60,000 nonzeros (1.4 MiB in two
    buffers) needs 2M for one thread but 3M for two, and the message names 3M (it named what one thread needs,
    2M, which was refused again)."""
    lengths = np.full(3000, 3)
    lengths[5] = 60_000
    path = write_anndata(tmp_path / "a.h5ad", lengths)
    args = ["train", path, "-o", tmp_path / "m.h5", "--y", "obs/y", "--model", "linear", "--epochs", "1", "-q"]
    code, _, err = cli(*args, "--memory", "2M", "--parallel", "average", "--threads", 2)
    assert (code, err) == (2, (
        "sgdcli: error: --memory: 2.0 MiB split between the 2 threads of --parallel average leaves 1.0 MiB each, "
        f"less than 2 copies of row 5 of {path}:X (60,000 nonzeros); raise --memory to at least 3M or lower "
        "--threads\n"))
    assert cli(*args, "--memory", "3M", "--parallel", "average", "--threads", 2)[0] == 0
    assert cli(*args, "--memory", "2M", "--threads", 1)[0] == 0


def test_under_parallel_average_windows_too_heavy_for_a_share_are_refused_with_the_memory_it_needs(files, tmp_path):
    """The windows of each thread's share too: 4M in two leaves the 2M that one thread is refused at (above),
    and 8M gives each the 4M that message names."""
    args = ["train", files[0], "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--parallel", "average", "--threads", 2]
    code, _, err = cli(*args, "--memory", "4M")
    assert (code, err) == (2, (
        f"sgdcli: error: --memory: 4.0 MiB split between the 2 threads of --parallel average leaves 2.0 MiB each, "
        f"less than a window of rows 0-1 of {files[0]}:X (2.3 MiB in flight), and runs of fewer rows would make "
        "the epoch's order of runs pass its share of --memory; raise --memory to at least 8M or lower --threads\n"))
    assert cli(*args, "--memory", "8M")[0] == 0


PEAK = RSS_SAMPLER + """
from sgdcli import evaluate, train
from sgdcli.options import TrainOptions
command, path, model = sys.argv[1:4]
if command == "train":
    train(path, TrainOptions(memory=4 << 20, epochs=1, standardize=True, threads=1))
else:
    evaluate(model, path, memory=4 << 20)
time.sleep(0.05)
print(peak[0])
"""


def test_memory_with_heavy_rows_is_bounded_as_with_even_rows(files, tmp_path):
    """The same nonzeros, the heavy rows together or spread: peak anonymous memory of training (label, moment
    and --lr auto passes, the windows) and of evaluation within a few MiB of each other.  Sized by the
    average row, the block holding the heavy rows held all 4M of their nonzeros (48 MiB read, more scratch).
    (A regression model: a classifier's AUC histogram touches pages as its scores fall, file by file.)"""
    skew, even = files
    model = tmp_path / "m.h5"
    assert cli("train", even, "-o", model, "--epochs", "1", "-q", "--model", "linear")[0] == 0
    peaks = {}
    for command in ("train", "evaluate"):
        # a first run compiles the kernels it needs (a fresh clone's empty cache): LLVM's memory, not the data's
        subprocess.run([sys.executable, "-c", PEAK, command, str(even), str(model)], capture_output=True, check=True)
        for name, path in (("skew", skew), ("even", even)):
            out = subprocess.run([sys.executable, "-c", PEAK, command, str(path), str(model)], capture_output=True,
                                 text=True, check=True)
            peaks[command, name] = int(out.stdout.split()[-1])
    for command in ("train", "evaluate"):
        assert peaks[command, "skew"] < peaks[command, "even"] + 12 * 2**20, peaks


def test_under_parallel_average_windows_of_a_csr_file_of_tall_chunks_are_refused_with_the_memory_that_holds_them(
        tmp_path):
    """A CSR file as convert writes it (indptr and y in chunks of 65,536 rows), its windows whole chunks: each
    thread's share of --memory must hold two of them.  The refusal named the share as if it were --memory and
    the least --memory for one thread, and the --memory it named was refused again, naming itself.  It named X,
    and a single thread's "(65536 rows × 100000 features)", where y's chunks (X is CSR) make the windows."""
    rng = np.random.default_rng(0)
    cols = rng.choice(np.arange(1, 1000), 70_000) + np.array([[0], [1]])
    (tmp_path / "d.svm").write_text("".join(f"{i % 2} {a}:0.5 {b}:1.5\n" for i, (a, b) in enumerate(cols.T)))
    assert cli("convert", tmp_path / "d.svm", "-o", tmp_path / "d.h5", "--features", "100000")[0] == 0
    args = ["train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--parallel", "average",
            "--threads", 2]
    code, _, err = cli(*args, "--memory", "8M")
    named = err.rsplit("raise --memory to at least ", 1)[-1].split(" ")[0]
    assert (code, err) == (2, (
        "sgdcli: error: --memory: 8.0 MiB split between the 2 threads of --parallel average leaves 4.0 MiB each, "
        f"less than two blocks of one chunk of {tmp_path / 'd.h5'}:y; raise --memory to at least {named} or lower "
        "--threads\n"))
    least = int(named.removesuffix("M"))
    code, _, err = cli(*args, "--memory", f"{least - 1}M")
    assert code == 2 and err.endswith(f"raise --memory to at least {named} or lower --threads\n"), err
    assert cli(*args, "--memory", named)[0] == 0
    code, _, err = cli(*args[:-4], "--memory", "1M")
    one = err.rsplit("raise --memory to at least ", 1)[-1].strip()
    assert (code, err) == (2, "sgdcli: error: --memory: 1.0 MiB cannot hold 2 blocks of one chunk of "
                              f"{tmp_path / 'd.h5'}:y (65,536 rows); raise --memory to at least {one}\n")
    assert cli(*args[:-4], "--memory", one)[0] == 0
    # one thread holds y whole there (data/held.py): less than half the two threads' figure, whose shares read it
    # in blocks of its chunks; and the least that does
    assert int(one.removesuffix("M")) < least // 2
    assert cli(*args[:-4], "--memory", f"{int(one.removesuffix('M')) - 1}M")[2].endswith(f"at least {one}\n")
