"""Reads of many spans through HDF5 touch a bounded number of chunks each (chunks.capped), whatever the chunks'
size: HDF5 holds bookkeeping for every chunk one read touches; and a union of many spans is cut into reads that
HDF5 makes faster (chunks.reads)."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from sgdcli.data import chunks
from sgdcli.data.sources import read_union

from conftest import RSS_SAMPLER


def spans_of(rng, n):
    cuts = np.unique(rng.integers(0, n + 1, size=12))
    return [(int(a), int(b)) for a, b in zip(cuts[::2], cuts[1::2]) if b > a]


class Chunked:
    def __init__(self, chunks, shape=(10**6, 5)):
        self.chunks, self.shape = chunks, shape


@pytest.mark.parametrize("rows", [1, 3, 7, 64])
def test_each_group_touches_at_most_chunks_per_read_chunks_and_the_groups_are_the_spans_cut_at_chunk_ends(
        monkeypatch, rows):
    monkeypatch.setattr(chunks, "CHUNKS_PER_READ", 4)
    rng = np.random.default_rng(rows)
    for _ in range(200):
        spans = spans_of(rng, 300)
        groups = list(chunks.capped(Chunked((rows, 5)), spans))
        assert all(groups)
        for group in groups:
            assert sum(len(range(a // rows, (b - 1) // rows + 1)) for a, b in group) <= 4
        pieces = [piece for group in groups for piece in group]
        assert all(b > a for a, b in pieces)
        assert [r for a, b in pieces for r in range(a, b)] == [
            r for a, b in spans for r in range(a, b)]
        joins = {a for a, _ in pieces} - {a for a, _ in spans}
        assert all(a % rows == 0 for a in joins)  # a span is cut only where a chunk begins
    assert list(chunks.capped(Chunked(None), [(0, 10**9)])) == [[(0, 10**9)]]


def rows_of(spans):
    return [r for a, b in spans for r in range(a, b)]


def chunks_of(group, rows):
    return {c for a, b in group for c in range(a // rows, (b - 1) // rows + 1)}


@pytest.mark.parametrize("cap", [6, 10**6])
@pytest.mark.parametrize("rows", [None, 1, 3, 7, 64])
@pytest.mark.parametrize("ndim", [1, 2])
def test_reads_cut_a_union_into_reads_of_few_spans_and_a_matrix_s_at_chunks_it_does_not_share(monkeypatch, rows,
                                                                                              ndim, cap):
    """A union of many spans costs more a span than a few reads of fewer, and a union of rows of a chunked
    matrix far more a row than reads of one span each (bench/hdf5_reads.py): every group holds at most
    SPANS_PER_READ spans (a matrix's more only where each starts in the chunk where the one before ends) and
    touches at most CHUNKS_PER_READ chunks; below that cap, a matrix's groups share no chunk (a compressed one is
    decoded once), and one ends before ROWS_PER_READ rows only at SPANS_PER_READ."""
    monkeypatch.setattr(chunks, "CHUNKS_PER_READ", cap)
    monkeypatch.setattr(chunks, "SPANS_PER_READ", 3)
    monkeypatch.setattr(chunks, "ROWS_PER_READ", 5)
    ds = Chunked(None if rows is None else (rows,) * ndim, (300,) * ndim)
    rng = np.random.default_rng(ndim * 100 + (rows or 0))
    for _ in range(300):
        cuts = np.unique(rng.integers(0, 301, size=rng.integers(2, 40)))
        spans = [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if rng.random() < 0.6]  # some adjacent
        groups = list(chunks.reads(ds, spans + [(300, 300)]))
        assert rows_of([s for g in groups for s in g]) == rows_of(spans)
        for group in groups:
            assert group and all(b > a for a, b in group)
            assert all(b1 < a2 for (_, b1), (a2, _) in zip(group, group[1:]))  # adjacent spans joined
            if rows is None or ndim == 1:
                assert len(group) <= 3
            else:  # past SPANS_PER_READ, only spans that start in the chunk where the one before ends
                assert all(a // rows == (b - 1) // rows for (_, b), (a, _) in zip(group[2:], group[3:]))
            if rows is not None:
                assert len(chunks_of(group, rows)) <= cap
        if rows is None or ndim == 1 or cap < 300:  # (the chunk cap cuts where it must)
            continue
        for before, after in zip(groups, groups[1:]):
            assert not chunks_of(before, rows) & chunks_of(after, rows)
            assert sum(b - a for a, b in before) >= 5 or len(before) == 3


def test_the_rows_of_a_chunked_matrix_s_window_are_read_a_span_a_read():
    """The page shuffle's window of random runs of whole chunks of a 2-D chunked dataset (a Loom matrix's cells,
    a PyTables matrix): a read each, not a union of them, which took several times as long."""
    ds = Chunked((64, 64), (100_000, 1000))
    spans = [(a, a + 64) for a in range(0, 100_000, 640)]
    assert list(chunks.reads(ds, spans)) == [[s] for s in spans]
    assert list(chunks.reads(Chunked((64,), (100_000,)), spans)) == [spans[i:i + chunks.SPANS_PER_READ]
                                                                      for i in range(0, len(spans), 128)]


@pytest.mark.parametrize("axis", [0, 1])
def test_a_union_read_in_many_reads_is_the_spans_laid_end_to_end(tmp_path, monkeypatch, axis):
    monkeypatch.setattr(chunks, "CHUNKS_PER_READ", 2)
    monkeypatch.setattr(chunks, "SPANS_PER_READ", 2)
    monkeypatch.setattr(chunks, "ROWS_PER_READ", 4)
    rng = np.random.default_rng(axis)
    stored = rng.standard_normal((3, 200) if axis else (200, 3))
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("x", data=stored, chunks=(3, 7) if axis else (7, 3))
        f.create_dataset("whole", data=stored)
        f.create_dataset("column", data=stored[0] if axis else stored[:, 0], chunks=(7,))
        for _ in range(50):
            spans = spans_of(rng, 200)
            expected = np.concatenate([np.take(stored, range(a, b), axis=axis) for a, b in spans] or
                                      [np.take(stored, [], axis=axis)], axis=axis)
            for name in ("x", "whole"):
                np.testing.assert_array_equal(read_union(f[name], spans, axis), expected)
            column = np.take(stored[0] if axis else stored[:, 0], rows_of(spans))
            np.testing.assert_array_equal(read_union(f["column"], spans, 0), column)


CSR_READ_PEAK = RSS_SAMPLER + """
from sgdcli.data.sparse import CsrReader
import h5py
with h5py.File(sys.argv[1]) as f:
    reader = CsrReader(f["X"])
    expected = reader.read_ranges([(0, reader.n_rows)])
time.sleep(0.05)
before = peak[0]
with h5py.File(sys.argv[2]) as f:
    reader = CsrReader(f["X"])
    for ranges in ([(0, reader.n_rows)], [(a, a + 256) for a in range(0, reader.n_rows, 512)]):
        got = reader.read_ranges(ranges)
        if len(ranges) == 1:
            assert (got.data == expected.data).all() and (got.indices == expected.indices).all()
time.sleep(0.05)
print(peak[0] - before)
"""


def test_a_csr_matrix_of_one_entry_chunks_is_read_in_a_few_mib(tmp_path):
    """Rows of a CSR matrix are read by unions of spans of indptr, data and indices (data/sparse.py): one read of
    131,072 one-entry chunks held over 800 MiB of HDF5's bookkeeping; a read touches at most CHUNKS_PER_READ."""
    n, per = 65_536, 2
    rng = np.random.default_rng(0)
    parts = {"data": rng.standard_normal(n * per).astype(np.float32),
             "indices": rng.integers(0, 50, n * per).astype(np.int32),
             "indptr": np.arange(n + 1, dtype=np.int64) * per}
    for name, chunk in (("whole.h5", None), ("small.h5", 1)):
        with h5py.File(tmp_path / name, "w") as f:
            g = f.create_group("X")
            g.attrs["shape"] = (n, 50)
            for key, value in parts.items():
                g.create_dataset(key, data=value, chunks=(chunk,) if chunk else None)
    out = subprocess.run([sys.executable, "-c", CSR_READ_PEAK, str(tmp_path / "whole.h5"),
                          str(tmp_path / "small.h5")], capture_output=True, text=True, check=True).stdout
    assert int(out) < 64 * 2**20, int(out) / 2**20
