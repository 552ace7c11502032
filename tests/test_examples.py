"""examples/Makefile, run with make: a failed gate leaves no target, a rerun redoes only the rest, then nothing."""

import json
import os
import shutil
import subprocess
import sys

import h5py
import pytest

from conftest import ROOT, without

MAKEFILE = os.path.join(ROOT, "examples", "Makefile")


def make(out, *args, sgdcli=f"{sys.executable} -m sgdcli"):
    cmd = ["make", "-f", MAKEFILE, f"OUT={out}", f"SGDCLI={sgdcli}", "ROWS=4000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_default_target_works_without_the_plot_extra(tmp_path):
    """As `make demo` leaves the install: no matplotlib. The pipeline runs; the curves are a target of their own."""
    base = tmp_path / "base_sgdcli.py"
    base.write_text(without("matplotlib"))
    out = tmp_path / "build"
    done = make(out, sgdcli=f"{sys.executable} {base}")
    assert done.returncode == 0, done.stderr
    assert (out / "predictions.h5").exists() and not (out / "curves.png").exists()
    assert "learning curves: make -f examples/Makefile curves (needs the plot extra" in done.stdout
    curves = make(out, "curves", sgdcli=f"{sys.executable} {base}")
    assert curves.returncode != 0 and "run .venv/bin/pip install -e '.[plot]' in the sgdcli checkout" in curves.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_pipeline_fails_cleanly_resumes_with_only_the_missing_steps_and_then_does_nothing(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "build"
    failed = make(out, "GATE=accuracy=0.9999")
    assert failed.returncode != 0
    assert "sgdcli: error: quality gate failed on" in failed.stderr
    assert {p.name for p in out.iterdir()} == {"train.h5", "test.h5", "model.h5", "metrics.jsonl"}  # no partial target

    planned = make(out, "-n", "all", "curves", "GATE=accuracy=0.8").stdout  # what a rerun would do
    assert "sgdcli evaluate" in planned and "sgdcli predict" in planned and "sgdcli plot" in planned
    assert "sgdcli generate" not in planned and "sgdcli train" not in planned

    done = make(out, "all", "curves", "GATE=accuracy=0.8")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "test-metrics.json").read_text())
    assert metrics["rows"] == 5000 and metrics["accuracy"] >= 0.8
    with h5py.File(out / "predictions.h5") as f:
        assert f["prediction"].shape == (5000,) and f["proba"].shape == (5000, 2)
    assert (out / "curves.png").read_bytes().startswith(b"\x89PNG")

    again = make(out, "curves", "GATE=accuracy=0.8")
    assert again.returncode == 0 and "Nothing to be done for 'curves'" in again.stdout
    assert make(out, "-q", "curves", "GATE=accuracy=0.8").returncode == 0  # up to date


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_nightly_retraining_continues_the_current_model_and_swaps_it_in(tmp_path):
    out = tmp_path / "build"
    done = make(out, "nightly")
    assert done.returncode == 0, done.stderr
    lineage = h5py.File(out / "current.h5").attrs["training"]
    chain = json.loads(lineage)["lineage"]
    assert [run["epochs"] for run in chain][1:] == [1] and chain[0]["started_from"] is None
    assert chain[1]["started_from"]["path"] == str(out / "current.h5")
    assert not (out / "candidate.h5").exists()
    assert "2. from " in done.stdout and "1 epoch on" in done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_from_the_checkout_root_it_runs_the_sgdcli_make_demo_installed(tmp_path):
    """`make demo` installs into .venv/, which is not on PATH (nor on cron's /usr/bin:/bin): the bare `sgdcli` the
    Makefile called was 'No such file or directory', exit 127."""
    def plan(cwd):
        # under `make test`, the outer make's MAKELEVEL would make this one print "Entering directory" lines
        cmd = ["make", "--no-print-directory", "-n", "-f", MAKEFILE, f"OUT={tmp_path / 'build'}"]
        env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, env=env).stdout.splitlines()

    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "sgdcli").write_text("")
    assert plan(checkout)[1] == f".venv/bin/sgdcli generate {tmp_path / 'build'}/train.h5 --task binary --rows 20000 " \
                                "--features 12 --seed 7"
    assert plan(tmp_path)[1].startswith("sgdcli generate ")  # elsewhere, the one on PATH
