"""The pass that finds the class names of text labels keeps to --memory: it reads whole chunks, as many as the
budget holds, and refuses a chunk that the budget cannot hold, before reading it (data/textlabels.py)."""

import os
import re
import sys
import tracemalloc

import h5py
import numpy as np
import pytest

from sgdcli.data import sources
from sgdcli.data.table import Table
from sgdcli.data.textlabels import SCAN_COPIES, _text
from sgdcli.errors import InputError

from conftest import cli, short_fits

ROWS, NAMES = 300_000, np.array([b"cat", b"dog", b"emu", b"yak"])
MEMORY = 1 << 20


@pytest.fixture
def reads(monkeypatch):
    """The rows of every read of a source (a text label column among them), as they are asked for."""
    seen = []
    real = sources.Source.read_spans

    def read_spans(self, spans):
        seen.append(sum(b - a for a, b in spans))
        return real(self, spans)

    monkeypatch.setattr(sources.Source, "read_spans", read_spans)
    return seen


def write(path, chunks=None, compression=None):
    rng = np.random.default_rng(0)
    labels = NAMES[rng.integers(0, len(NAMES), ROWS)].astype("S8")
    labels[-1] = b"zebu"  # the last piece holds a name of its own
    with h5py.File(path, "w") as f:
        f["X"] = rng.standard_normal((ROWS, 2)).astype(np.float32)
        f.create_dataset("y", data=labels, chunks=chunks, compression=compression)
    return str(path)


def test_the_names_are_found_in_pieces_that_memory_holds(tmp_path, reads):
    path = write(tmp_path / "names.h5")
    with Table(path, memory=MEMORY) as table:
        assert table.class_names == ["cat", "dog", "emu", "yak", "zebu"]
    assert len(reads) > 1
    assert max(reads) * SCAN_COPIES * 8 <= MEMORY  # (the whole column in one read before: 300,000 rows)


def test_a_run_reads_no_more_of_them_at_once_than_memory_holds(tmp_path, reads):
    path = write(tmp_path / "names.h5")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "softmax", "--memory", "1M", "--epochs", "1")
    assert code == 0, err
    assert max(reads) * SCAN_COPIES * 8 <= MEMORY  # (the names' pass read all 300,000 rows at once)


def test_pieces_are_whole_chunks(tmp_path, reads):
    path = write(tmp_path / "chunks.h5", chunks=(10_000,), compression="gzip")
    with Table(path, memory=MEMORY) as table:
        assert table.class_names == ["cat", "dog", "emu", "yak", "zebu"]
    assert reads and all(rows % 10_000 == 0 for rows in reads[:-1])
    assert max(reads) * SCAN_COPIES * 8 <= MEMORY


def _least(path, given: str = "1M") -> tuple[str, str]:
    """The error of a run (softmax) at --memory ``given``, and the --memory it names."""
    code, _, err = cli("train", path, "-o", os.path.join(os.path.dirname(path), "m.h5"), "--memory", given,
                       "--epochs", "1", "-q", "--model", "softmax")
    assert code == 2, err
    return err, re.fullmatch(r"sgdcli: error: .*; raise --memory to at least (\d+)M\n", err)[1]


def test_a_chunk_larger_than_memory_is_refused_before_it_is_read(tmp_path, reads):
    """The --memory named is the least that trains: the epochs' two blocks of the chunk's rows take more than the
    pass (7M held the pass, and was refused next for the blocks)."""
    path = write(tmp_path / "big.h5", chunks=(ROWS,), compression="gzip")
    with pytest.raises(InputError) as caught:
        Table(path, memory=MEMORY)
    assert str(caught.value).startswith(
        f"--memory: 1.0 MiB cannot hold one chunk of {path}:y (300,000 rows of text labels, 2.3 MiB as stored) "
        "while finding the names of its classes; raise --memory to at least ")
    assert reads == []
    err, least = _least(path)
    assert err == f"sgdcli: error: {caught.value}\n" and not (tmp_path / "m.h5").exists()
    assert _least(path, f"{int(least) - 1}M")[1] == least
    assert cli("train", path, "-o", tmp_path / "m.h5", "--memory", f"{least}M", "--epochs", "1", "-q",
               "--model", "softmax")[0] == 0


def test_the_memory_named_for_long_variable_length_names_is_what_they_take(tmp_path):
    """40,000 names of 200 characters in one chunk: the pass was refused at a guess of what each name's object
    takes (a short name's), naming 8M, which was then refused for 11M.  The names are measured first."""
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "long.h5", "w") as f:
        f["X"] = rng.standard_normal((40_000, 4)).astype(np.float32)
        f.create_dataset("y", data=[("a" * 199 + "x", "b" * 199 + "y")[i] for i in rng.integers(0, 2, 40_000)],
                         dtype=h5py.string_dtype(), chunks=(40_000,))
    path = str(tmp_path / "long.h5")
    least = _least(path)[1]
    assert _least(path, f"{int(least) - 1}M")[1] == least
    assert cli("train", path, "-o", tmp_path / "m.h5", "--memory", f"{least}M", "--epochs", "1", "-q",
               "--model", "softmax")[0] == 0


def test_the_memory_named_beside_a_sparse_matrix_is_what_its_rows_take_too(tmp_path):
    """Text labels in one chunk beside a CSR matrix: the pass's refusal named what the pass alone took (21M),
    which was then refused for the epochs' blocks of the matrix's rows (90M); it names the blocks' figure."""
    sparse = pytest.importorskip("scipy.sparse")
    M = sparse.random(ROWS, 50, density=0.1, format="csr", dtype=np.float32, random_state=0)
    with h5py.File(tmp_path / "csr.h5", "w") as f:
        g = f.create_group("X")
        g.attrs["encoding-type"], g.attrs["shape"] = "csr_matrix", M.shape
        for part in ("data", "indices", "indptr"):
            g.create_dataset(part, data=getattr(M, part), chunks=(100_000,) if part != "indptr" else (10_000,))
        f.create_dataset("y", data=NAMES[M.indptr[1:] % 4], chunks=(ROWS,), compression="gzip")
    path = str(tmp_path / "csr.h5")
    err, least = _least(path)
    assert "cannot hold one chunk of" in err and "while finding the names of its classes" in err, err
    assert _least(path, f"{int(least) - 1}M")[1] == least
    assert cli("train", path, "-o", tmp_path / "m.h5", "--memory", f"{least}M", "--epochs", "1", "-q",
               "--model", "softmax")[0] == 0


@pytest.mark.parametrize("taller", ["X", "w"])
def test_the_memory_named_holds_the_taller_chunks_of_features_or_weights(tmp_path, taller):
    """Text labels in chunks of 100,000 rows beside features, or weights read whole, in one chunk of all
    300,000: the refusal named what blocks of the labels' chunk take, which training then refused for blocks
    of the taller chunk (the weights': 25M, then 74M)."""
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "tall.h5", "w") as f:
        f.create_dataset("X", data=rng.standard_normal((ROWS, 8)).astype(np.float32),
                         chunks=(ROWS, 1) if taller == "X" else (10_000, 8))
        f.create_dataset("y", data=NAMES[rng.integers(0, 4, ROWS)].astype("S40"), chunks=(100_000,),
                         compression="gzip")
        f.create_dataset("w", data=rng.uniform(0.5, 2, ROWS), chunks=(ROWS,), compression="gzip")
    path, weights = str(tmp_path / "tall.h5"), ["--sample-weight", "w"] if taller == "w" else []
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--memory", "1M", *weights, "-q", "--model", "softmax")
    assert code == 2 and "while finding the names of its classes" in err, err
    least = int(re.search(r"at least (\d+)M\n", err)[1])
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--memory", f"{least - 1}M", *weights, "-q",
                       "--model", "softmax", "--epochs", "1")
    assert code == 2 and f"at least {least}M\n" in err and (
        f"whole chunks of {path}:{taller}" in err or f"one chunk of {path}:{taller}" in err), err
    assert cli("train", path, "-o", tmp_path / "m.h5", "--memory", f"{least}M", *weights, "--epochs", "1", "-q",
               "--model", "softmax")[0] == 0


def test_a_block_of_names_is_read_as_codes_without_decoding_every_row(tmp_path):
    """Each distinct value of a block is decoded and looked up once: decoding every row to text took twice the
    memory (8-byte names; the budget counts 8 bytes for a label), and the codes stay the same."""
    path = write(tmp_path / "names.h5")
    with Table(path) as table:
        expected = np.searchsorted(table.class_names, _text(h5py.File(path)["y"][()]))
        tracemalloc.start()
        try:
            codes = table.Y.read(0, ROWS, None)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert np.array_equal(codes, expected)
    assert peak < 80 * ROWS  # (116 before; 57 now, the rows as read and np.unique's copies and indices)


def test_variable_length_names_are_found_within_memory_whatever_their_length(tmp_path):
    """h5py makes a Python object of each variable-length string, which takes its characters too: the pass
    sized its pieces by a short name's (and held a piece while it read the next), so names of 64 characters
    took over twice --memory (18 MiB at 8 MiB)."""
    rng = np.random.default_rng(0)
    names = np.array([f"class {i:02d} " + "x" * 55 for i in range(20)], dtype=object)
    path = tmp_path / "long.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=np.zeros((600_000, 2), dtype=np.float32), chunks=(8192, 2))
        f.create_dataset("y", data=names[rng.integers(0, len(names), 600_000)], dtype=h5py.string_dtype(),
                         chunks=(8192,), compression="gzip")
    memory = 8 << 20
    with Table(path, memory=memory):  # (what opening a table imports is not the pass's)
        pass
    tracemalloc.start()
    try:
        with Table(path, memory=memory) as table:
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table.class_names == sorted(names)
    assert peak <= memory


# random labels read under --memory 8M, the subject: the fit and shuffle warnings are right and beside the point
@pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.ShuffleWarning")
@short_fits
def test_the_epochs_read_variable_length_names_within_memory(tmp_path, monkeypatch):
    """During the epochs a block's names were read whole, each a Python object of tens of bytes (its header and
    characters) and np.unique's copies beside it, where --memory counts 8 bytes a label: names of 64 characters
    took more than --memory.  They are read in pieces that take no more than the block's codes, and train the
    model that whole reads train."""
    from sgdcli import TrainOptions, train

    rng = np.random.default_rng(0)
    names = np.array([f"class {i:02d} " + "x" * 55 for i in range(20)], dtype=object)
    path = tmp_path / "long.h5"
    with h5py.File(path, "w") as f:  # X compressed, so its blocks are buffers the budget counts
        f.create_dataset("X", data=rng.standard_normal((200_000, 2)).astype(np.float32), chunks=(8192, 2),
                         compression="gzip")
        f.create_dataset("y", data=names[rng.integers(0, len(names), 200_000)], dtype=h5py.string_dtype())
    opts = TrainOptions(model="softmax", epochs=1, memory=8 << 20, seed=1)
    with monkeypatch.context() as whole_reads:  # (and what a first run imports and compiles is not the run's data)
        whole_reads.setattr(sources, "rows_per_read", lambda source, budget: 1 << 40)
        whole = train(path, opts)
    tracemalloc.start()
    try:
        model = train(path, opts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= opts.memory, peak
    for name in ("weights", "bias"):
        assert np.asarray(getattr(model, name)).tobytes() == np.asarray(getattr(whole, name)).tobytes(), name


def test_the_names_of_a_val_files_labels_are_found_within_memory_too(tmp_path):
    """Where the training labels are numbers, a --val file's text labels are scanned for their names before
    the kinds are compared: that pass took the default --memory, not the run's."""
    rng = np.random.default_rng(0)
    data = tmp_path / "numbers.h5"
    with h5py.File(data, "w") as f:
        f["X"], f["y"] = rng.standard_normal((1000, 2)).astype(np.float32), (rng.random(1000) > 0.5) * 1.0
    val = write(tmp_path / "names.h5", chunks=(ROWS,), compression="gzip")
    code, _, err = cli("train", data, "-o", tmp_path / "m.h5", "--val", val, "--memory", "1M")
    assert code == 2 and f"--memory: 1.0 MiB cannot hold one chunk of {val}:y (300,000 rows of text labels" in err, err
    assert not (tmp_path / "m.h5").exists()


def test_a_chunk_of_names_larger_than_memory_is_refused_by_evaluate_before_it_is_read(tmp_path, reads):
    """evaluate reads names as the model's classes, with no pass to find them, and that pass's refusal was the
    only one: a chunk of long variable-length names was read whole, its objects nearly three times --memory."""
    rng = np.random.default_rng(0)
    names = np.array([f"class {i} " + "x" * 190 for i in range(4)], dtype=object)
    path = tmp_path / "long.h5"
    with h5py.File(path, "w") as f:
        f["X"] = rng.standard_normal((40_000, 2)).astype(np.float32)
        f.create_dataset("y", data=names[rng.integers(0, 4, 40_000)], dtype=h5py.string_dtype(), chunks=(40_000,),
                         compression="gzip")
    assert cli("train", path, "-o", tmp_path / "m.h5", "--model", "softmax", "--epochs", "1", "-q")[0] == 0
    reads.clear()
    # a row while read: the pointer as read, as taken and sorted, the object of the longest name, np.unique's indices
    per_row = SCAN_COPIES * 8 + -(-sys.getsizeof(names[0].encode()) // 16) * 16 + 3 * 8
    code, out, err = cli("evaluate", tmp_path / "m.h5", path, "--memory", "4M")
    assert (code, out) == (2, "") and reads == []
    assert err == (f"sgdcli: error: --memory: 4.0 MiB cannot hold one chunk of {path}:y "
                   f"({40_000 * per_row / 2**20:.1f} MiB decoded, 40,000 rows), which is read whole; raise --memory "
                   f"to at least {-(-40_000 * per_row // 2**20)}M\n")
    assert cli("evaluate", tmp_path / "m.h5", path, "--memory", f"{-(-40_000 * per_row // 2**20)}M")[0] == 0


def test_a_chunk_of_a_tables_variable_length_names_counts_their_objects(tmp_path, reads):
    """A compound table's field of variable-length names is read as Python objects too, but the source's dtype is
    the table's (a compound, not an object): what the names took was left out, so evaluate read whole a chunk
    whose names took more than --memory, where it refuses it as it does a dataset's."""
    rng = np.random.default_rng(0)
    names = np.array([f"class {i} " + "x" * 190 for i in range(4)], dtype=object)
    table = np.zeros(40_000, dtype=[("a", "f4"), ("b", "f4"), ("name", h5py.string_dtype())])
    table["a"], table["b"] = rng.standard_normal((2, 40_000))
    table["name"] = names[rng.integers(0, 4, 40_000)]
    path = tmp_path / "table.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("T", data=table, chunks=(40_000,), compression="gzip")
    argv = ["--x", "T", "--label-column", "name"]
    assert cli("train", path, "-o", tmp_path / "m.h5", *argv, "--model", "softmax", "--epochs", "1", "-q")[0] == 0
    reads.clear()
    # a row while read: the table's row as read, as taken and sorted, the longest name's object, np.unique's indices
    per_row = SCAN_COPIES * table.dtype.itemsize + -(-sys.getsizeof(names[0].encode()) // 16) * 16 + 3 * 8
    code, out, err = cli("evaluate", tmp_path / "m.h5", path, *argv, "--memory", "4M")
    assert (code, out) == (2, "") and reads == []
    assert err == (f"sgdcli: error: --memory: 4.0 MiB cannot hold one chunk of {path}:T "
                   f"({40_000 * per_row / 2**20:.1f} MiB decoded, 40,000 rows), which is read whole; raise --memory "
                   f"to at least {-(-40_000 * per_row // 2**20)}M\n")
    assert cli("evaluate", tmp_path / "m.h5", path, *argv, "--memory", f"{-(-40_000 * per_row // 2**20)}M")[0] == 0


# random labels read under --memory 8M, the subject: the fit and shuffle warnings are right and beside the point
@pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.ShuffleWarning")
@short_fits
def test_a_run_on_a_tables_variable_length_names_keeps_to_memory(tmp_path):
    """The same for a compound table's field of names of 64 characters: the names' pass and the epochs' reads were
    sized as if a name took its 8 bytes in the table's row, not its object too, and the run took more than
    --memory."""
    from sgdcli import TrainOptions, train

    rng = np.random.default_rng(0)
    names = np.array([f"class {i:02d} " + "x" * 55 for i in range(20)], dtype=object)
    table = np.zeros(200_000, dtype=[("a", "f4"), ("b", "f4"), ("name", h5py.string_dtype())])
    table["a"], table["b"] = rng.standard_normal((2, 200_000))
    table["name"] = names[rng.integers(0, len(names), 200_000)]
    path = tmp_path / "table.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("T", data=table, chunks=(8192,), compression="gzip")
    opts = TrainOptions(x="T", label_column="name", model="softmax", epochs=1, memory=8 << 20, seed=1)
    train(path, opts)  # (what a first run imports and compiles is not the run's data)
    tracemalloc.start()
    try:
        train(path, opts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= opts.memory, peak


def test_the_memory_named_for_a_label_column_of_a_table_holds_the_blocks_of_its_rows(tmp_path):
    """A table (compound dataset) in one chunk of 300,000 rows, its label a text field: the pass named 21M, which
    the epochs' blocks of the table's rows then refused for 60M."""
    rng = np.random.default_rng(0)
    table = np.zeros(ROWS, np.dtype([*((f"f{i}", "f4") for i in range(4)), ("label", "S8")]))
    for i in range(4):
        table[f"f{i}"] = rng.standard_normal(ROWS)
    table["label"] = NAMES[rng.integers(0, 2, ROWS)]
    with h5py.File(tmp_path / "table.h5", "w") as f:
        f.create_dataset("data", data=table, chunks=(ROWS,))
    path, columns = str(tmp_path / "table.h5"), ("--x", "data", "--label-column", "label")
    code, _, err = cli("train", path, *columns, "-o", tmp_path / "m.h5", "--memory", "1M")
    assert code == 2 and "while finding the names of its classes; raise --memory to at least " in err, err
    least = re.search(r"at least (\d+)M", err)[1]
    code, _, err = cli("train", path, *columns, "-o", tmp_path / "m.h5", "--memory", f"{int(least) - 1}M")
    assert code == 2 and err.endswith(f"; raise --memory to at least {least}M\n"), err
    assert cli("train", path, *columns, "-o", tmp_path / "m.h5", "--memory", f"{least}M", "--epochs", "1", "-q")[0] == 0


@short_fits
def test_rows_labelled_with_the_empty_name_are_warned_of_as_a_class_of_their_own(tmp_path):
    """A text label '' (how many writers store a missing value) is a class like any name: the run trains on it,
    and says so, once, counting its rows and naming the classes; a column without it says nothing, and so does
    one whose values were never written (refused: the '' read there is HDF5's fill value, tests/test_unwritten.py)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    names = np.array(["cat", "dog", "bird"], dtype=object)[np.argmax(X, axis=1)]
    names[7] = ""
    for name, labels in (("empty.h5", names), ("named.h5", np.where(names == "", "cat", names))):
        with h5py.File(tmp_path / name, "w") as f:
            f["X"] = X
            f.create_dataset("y", data=labels.astype(object), dtype=h5py.string_dtype())
    code, _, err = cli("train", tmp_path / "empty.h5", "-o", tmp_path / "m.h5", "--model", "softmax", "-q",
                       "--epochs", "1")
    assert (code, err) == (0, f"sgdcli: warning: {tmp_path / 'empty.h5'}:y: 1 training row labelled with the empty "
                              "name '', a class of its own (classes: '', 'bird', 'cat', 'dog') trained as any other; "
                              "where '' marks a missing label, leave those rows out\n")
    code, _, err = cli("train", tmp_path / "named.h5", "-o", tmp_path / "m.h5", "--model", "softmax", "-q",
                       "--epochs", "1")
    assert (code, err) == (0, "")
