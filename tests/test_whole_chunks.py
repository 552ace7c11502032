"""A chunk that is read whole (compressed, or read through HDF5 rather than in place) and that --memory cannot
hold is refused before anything is read, naming the dataset, the chunk's size and a --memory that holds it
(data/wholechunks.py): never read anyway, beside a budget it breaks."""

import re

import h5py
import numpy as np
import pytest

from sgdcli.data import chunks, sources

from conftest import cli

ROWS = 8192


@pytest.fixture
def reads(monkeypatch):
    """Every read of rows: through HDF5 for a source, and of gzip chunks by the parallel decoder."""
    seen = []
    real_source, real_decoder = sources.Source.read_spans, chunks.ChunkDecoder.read_many

    def read_spans(self, spans):
        seen.append(("source", spans))
        return real_source(self, spans)

    def read_many(self, jobs):
        seen.append(("chunks", [(a, b) for a, b, _ in jobs]))
        return real_decoder(self, jobs)

    monkeypatch.setattr(sources.Source, "read_spans", read_spans)
    monkeypatch.setattr(chunks.ChunkDecoder, "read_many", read_many)
    return seen


def wide(path):
    """200 float64 columns in gzip chunks of 4,096 rows (6.25 MiB decoded), of which --features keeps two."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=rng.standard_normal((ROWS, 200)), chunks=(4096, 200), compression="gzip")
        f["y"] = (rng.random(ROWS) > 0.5).astype(np.float64)
    return str(path)


def test_a_chunk_larger_than_memory_is_refused_before_it_is_read(tmp_path, reads):
    path = wide(tmp_path / "wide.h5")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--features", "0,1", "--memory", "2M")
    assert (code, err) == (2, f"sgdcli: error: --memory: 2.0 MiB cannot hold one chunk of {path}:X (6.2 MiB "
                              "decoded), which is read whole; raise --memory to at least 7M\n")
    assert reads == [] and not (tmp_path / "m.h5").exists()
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--features", "0,1", "--memory", "7M",
                       "--epochs", "1")
    assert code == 0, err
    reads.clear()
    for command in (["evaluate", tmp_path / "m.h5", path], ["predict", tmp_path / "m.h5", path, "-o",
                                                            tmp_path / "p.csv"]):
        code, out, err = cli(*command, "--features", "0,1", "--memory", "2M")
        assert (code, out, err) == (2, "", f"sgdcli: error: --memory: 2.0 MiB cannot hold one chunk of {path}:X "
                                           "(6.2 MiB decoded), which is read whole; raise --memory to at least 7M\n")
        assert reads == [] and not (tmp_path / "p.csv").exists()


def test_the_share_of_each_thread_must_hold_it(tmp_path, reads):
    path = wide(tmp_path / "wide.h5")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--features", "0,1", "--memory", "8M",
                       "--parallel", "average", "--threads", "2")
    assert (code, err) == (2, "sgdcli: error: --memory: 8.0 MiB split between the 2 threads of --parallel average "
                              f"leaves 4.0 MiB each, less than one chunk of {path}:X (6.2 MiB decoded), which is "
                              "read whole; raise --memory to at least 13M or lower --threads\n")
    assert reads == []


@pytest.mark.parametrize("val_rows, named", [(2048, "7M"), (8192, "13M")])
def test_a_val_file_and_the_training_file_are_refused_once_naming_the_memory_both_need(tmp_path, val_rows, named):
    """Each table names the least --memory that holds its own chunks; where both are short, the one refusal
    names the larger, at which both fit (the --val file's was named first, then at it the training file's)."""
    path = wide(tmp_path / "wide.h5")
    rng = np.random.default_rng(1)
    with h5py.File(tmp_path / "val.h5", "w") as f:
        f.create_dataset("X", data=rng.standard_normal((ROWS, 200)), chunks=(val_rows, 200), compression="gzip")
        f["y"] = (rng.random(ROWS) > 0.5).astype(np.float64)
    larger = f"{path if val_rows < 4096 else tmp_path / 'val.h5'}:X"
    decoded = "6.2" if val_rows < 4096 else "12.5"
    args = ["train", path, "--val", tmp_path / "val.h5", "-o", tmp_path / "m.h5", "--features", "0,1",
            "--epochs", "1", "-q"]
    code, _, err = cli(*args, "--memory", "2M")
    assert (code, err) == (2, f"sgdcli: error: --memory: 2.0 MiB cannot hold one chunk of {larger} ({decoded} MiB "
                              f"decoded), which is read whole; raise --memory to at least {named}\n")
    code, _, err = cli(*args, "--memory", named)
    assert code == 0, err


def test_the_memory_named_for_both_counts_the_training_labels_held_at_that_figure(tmp_path):
    """The training file's labels, in one tall gzip chunk, are held whole at its own figure and not below it, so
    the --val file's blocks have less of that figure than of the --memory refused: the one refusal names what
    both need there (it named the training file's 8M, at which the --val file's were refused for 9M)."""
    rng = np.random.default_rng(0)
    n, d, val_rows = 262_144, 16, 22_000
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f["X"] = rng.standard_normal((n, d)).astype(np.float32)
        f.create_dataset("y", data=(rng.random(n) > 0.5) * 1.0, chunks=(n,), compression="gzip")
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f.create_dataset("X", data=rng.standard_normal((2 * val_rows, d)), chunks=(val_rows, d), compression="gzip")
        f["y"] = (rng.random(2 * val_rows) > 0.5) * 1.0
    args = ["train", tmp_path / "t.h5", "--val", tmp_path / "v.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q"]
    code, _, err = cli(*args, "--memory", "2M")
    named = re.fullmatch(r"sgdcli: error: --memory: 2\.0 MiB cannot hold .*; raise --memory to at least (\d+M)\n",
                         err)
    assert code == 2 and named, err
    code, _, err = cli(*args, "--memory", named[1])
    assert code == 0, err


def test_a_val_file_short_of_memory_is_refused_before_a_dask_cluster_is_joined(tmp_path):
    """Refused at once, exit 2, as before any cluster was connected to (no scheduler answers at this address:
    had the run tried it, it would have failed with exit 1 after the timeout)."""
    path = wide(tmp_path / "wide.h5")
    code, _, err = cli("train", path, "--val", path, "-o", tmp_path / "m.h5", "--features", "0,1", "--memory", "2M",
                       "--dask", "tcp://127.0.0.1:9", "--dask-timeout", "30")
    assert (code, err) == (2, f"sgdcli: error: --memory: 2.0 MiB cannot hold one chunk of {path}:X (6.2 MiB "
                              "decoded), which is read whole; raise --memory to at least 7M\n")


def test_one_thread_of_parallel_average_is_refused_as_a_run_of_one_stream(tmp_path):
    """One thread splits nothing: its refusal is a plain run's, not "split between the 1 threads ... or lower
    --threads" (what a chunk read whole was told, and since two blocks of a chunk were too)."""
    path = wide(tmp_path / "wide.h5")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--features", "0,1", "--memory", "2M",
                       "--parallel", "average", "--threads", "1")
    assert (code, err) == (2, f"sgdcli: error: --memory: 2.0 MiB cannot hold one chunk of {path}:X (6.2 MiB "
                              "decoded), which is read whole; raise --memory to at least 7M\n")
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "tall.h5", "w") as f:  # (chunks of few columns: their blocks are the larger need)
        f.create_dataset("X", data=rng.standard_normal((44_000, 16)), chunks=(22_000, 16), compression="gzip")
        f["y"] = (rng.random(44_000) > 0.5) * 1.0
    code, _, err = cli("train", tmp_path / "tall.h5", "-o", tmp_path / "m.h5", "--memory", "2M", "--parallel",
                       "average", "--threads", "1")
    assert (code, err) == (2, f"sgdcli: error: --memory: 2.0 MiB cannot hold 2 blocks of one chunk of "
                              f"{tmp_path / 'tall.h5'}:X (22,000 rows × 16 features); raise --memory to at least 7M\n")
