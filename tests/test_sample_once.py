"""The sample of rows a run's set-up measures (where huber's and quantile's weights start, --lr auto's rate for
the averaged models' joint and local steps, ...) is read once for the set-up and shared (training/sampling.py
``Sample``), not once a measure; and once more at the end where the end measures on it."""

import h5py
import numpy as np
import pytest

from sgdcli.data import columns

from conftest import cli


@pytest.fixture
def sample_reads(monkeypatch):
    """The datasets whose rows ``read_ranges`` read, one entry a call: of a contiguous file, only the sample's
    (the passes read blocks, the epochs rows in place)."""
    seen = []
    real = columns.ColumnReader.read_ranges

    def read_ranges(self, ranges, out):
        seen.append(self.ds.name)
        return real(self, ranges, out)

    monkeypatch.setattr(columns.ColumnReader, "read_ranges", read_ranges)
    return seen


@pytest.mark.parametrize("extra", [["--model", "huber", "--sample-weight", "w"],
                                   ["--model", "quantile", "--parallel", "average", "--threads", "2"],
                                   ["--model", "poisson", "--optimizer", "adam"]])
def test_the_sample_is_read_once_a_run(tmp_path, sample_reads, extra):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 5)).astype(np.float32)
    path = str(tmp_path / "data.h5")
    with h5py.File(path, "w") as f:
        f["X"], f["w"] = X, rng.uniform(0.5, 2.0, len(X))
        f["y"] = rng.poisson(np.exp(X @ np.full(5, 0.2) + 1)).astype(np.float64)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", *extra)
    assert code == 0, err
    # huber and quantile start at a fit of the sample and are held to it at the end (training/warmend.py), as a
    # warm start is, and each run at --lr auto's rate is set against a fit of it there (fitgap.py): one read
    # again, which every measure of the end shares
    once = ["/X", "/y"] + (["/w"] if "w" in extra else [])
    assert sorted(sample_reads) == sorted(once * 2)


@pytest.mark.parametrize("extra", [[], ["--init", "INIT"],
                                   ["--parallel", "average", "--threads", "2", "--lr-scaling", "replicas"]])
def test_an_explicit_rate_is_compared_with_lr_autos_on_the_runs_one_sample(tmp_path, sample_reads, extra):
    """The end of a run at an explicit --lr, far below --lr auto's, says so, naming --lr auto's rate
    (fitwarnings.py), measured on the run's one read of the sample (runrate.py): at set-up where the set-up
    reads it for another measure (--init's where the bias starts, --lr-scaling replicas' cap on the rate), at
    the end where only the warning needs it.  It was read again at the end for it.  The warning asks a fit of
    the sample whether the run is near the optimum all the same (fitgap.py), which needs the rows at the end:
    one read there, shared with every other measure of the end (--init's, warmend.py), released after them."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6000, 5)).astype(np.float32)
    path = str(tmp_path / "data.h5")
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, (X @ np.full(5, 1.0) + rng.standard_normal(6000) > 0).astype(np.float64)
    if "INIT" in extra:
        init = str(tmp_path / "init.h5")
        assert cli("train", path, "-o", init, "--epochs", "1", "--lr", "1e-4", "-q")[0] == 0
        extra = ["--init", init]
        sample_reads.clear()
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--lr", "1e-3", *extra)
    assert code == 0, err
    assert "times smaller than the" in err and "that --lr auto chooses here" in err, err  # the comparison made
    assert sorted(sample_reads) == (["/X", "/y"] if not extra else ["/X", "/X", "/y", "/y"])
