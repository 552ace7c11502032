"""A chunk that is read whole (compressed, or read through HDF5 rather than in place) and that --memory cannot
hold is refused before anything is read, naming the dataset, the chunk's size and a --memory that holds it
(data/wholechunks.py): never read anyway, beside a budget it breaks."""

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
