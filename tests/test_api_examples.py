"""Every Python example of docs/python-api.md runs as written, in the order written, on files that hold what its
names say (the guide's own ``sgdcli.generate`` call writes data.h5 for the examples after it)."""

import ast
import json
import logging
import os
import re
import types

import numpy as np
import pytest

import sgdcli

from conftest import ROOT

GUIDE = os.path.join(ROOT, "docs", "python-api.md")
ROWS = 4000  # the rows of the file the guide generates (rows=100_000) for the examples after it: their fits take less


def _examples() -> list[str]:
    with open(GUIDE, encoding="utf-8") as fh:
        return re.findall(r"^```python\n(.*?)^```$", fh.read(), flags=re.S | re.M)


def test_the_guide_holds_the_examples_this_test_runs():
    assert [code.split("\n", 1)[0] for code in _examples()] == [
        "import sgdcli", "import json", "import sgdcli", "from sgdcli import DaskOptions  # training with it needs "
        "the dask extra", "runs = sgdcli.sweep(\"data.h5\", TrainOptions(epochs=2, val_fraction=0.1),", "import logging"]


class _NoCluster:
    """``sgdcli`` as the examples see it, but a call of train with ``dask`` given is recorded, not run: there is no
    scheduler at tcp://scheduler:8786 (tests/test_dask.py trains on a local cluster)."""

    def __init__(self):
        self.clustered = []

    def __getattr__(self, name):
        return getattr(sgdcli, name)

    def train(self, data, options=None, **kwargs):
        if kwargs.get("dask") is None:
            return sgdcli.train(data, options, **kwargs)
        self.clustered.append((data, options, kwargs["dask"]))


@pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.FitWarning")
@pytest.mark.filterwarnings("ignore::sgdcli.kernels.runtime.ThreadsCapped")  # (threads=4 where Numba has fewer)
def test_every_example_of_the_python_guide_runs(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.chdir(tmp_path)
    sgdcli.generate("data.h5", task="binary", rows=3000, features=5)
    sgdcli.generate("test.h5", task="binary", rows=1000, features=5, data_seed=1)  # rows of data.h5's model
    sgdcli.generate("new.h5", task="binary", rows=500, features=5, data_seed=2)
    rng = np.random.default_rng(0)
    with open("sales.csv", "w", encoding="utf-8") as fh:
        fh.write("price,visits,churned\n")
        fh.writelines(f"{p:.2f},{v},{int(v < 3)}\n" for p, v in zip(rng.uniform(1, 9, 200), rng.integers(0, 9, 200)))
    shown = types.ModuleType("shown")  # the examples share their names, as in one session
    cluster = _NoCluster()
    caplog.set_level(logging.INFO, logger="sgdcli")
    for code in _examples():
        code = code.replace("rows=100_000", f"rows={ROWS}")
        exec(compile(code, GUIDE, "exec"), shown.__dict__)  # noqa: S102 (the guide's own code)
        if "import sgdcli" in code:
            shown.sgdcli = cluster
    assert sum("rows=100_000" in code for code in _examples()) == 1
    printed = capsys.readouterr().out.splitlines()
    metrics = ast.literal_eval(printed[0])  # the first example's print: the dict of metrics, as Python writes it
    assert metrics["rows"] == 1000 and metrics["accuracy"] > 0.9
    assert json.loads(printed[1])["table"]["rows"] == ROWS
    assert len(printed) == 2 + 6  # and a line of each sweep run
    assert isinstance(shown.model, sgdcli.Model) and os.path.exists("pred.h5") and os.path.exists("sales.h5")
    assert [(data, dask.address, dask.workers) for data, _, dask in cluster.clustered] == \
        [("/shared/data.h5", "tcp://scheduler:8786", 8)]
    assert [run.batch_label for run in shown.runs] == ["1", "1", "32", "32", "full", "full"]
    logged = [r.getMessage() for r in caplog.records if r.name == "sgdcli"]
    assert [line for line in logged if line.startswith("training on ")] == [
        f"training on {ROWS} rows: 5 epochs x {ROWS // 32} iterations of batch 32, lr {shown.model.training['lr']:g}"]
    assert any(line.startswith("epoch 1: train_loss ") for line in logged)
