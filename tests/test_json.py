"""Every JSON and JSON-lines output is strict JSON: a value that is not finite is written as null."""

import json

import numpy as np
import pytest

from conftest import cli, make_problem, write_table


def strict(text: str):
    """JSON as jq and JavaScript read it: NaN and Infinity are not JSON."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_json_output_parses_strictly_with_nulls_for_what_is_not_finite(tmp_path):
    X, y = make_problem("binary", n=2000, d=4, seed=5)
    data = write_table(tmp_path / "d.h5", X, y)
    one_class = write_table(tmp_path / "one.h5", X[:200], np.zeros(200, dtype=np.int64))  # AUC is undefined
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "--optimizer", "adam", "--epochs", "2",
                         "--val", one_class, "--metrics", tmp_path / "metrics.jsonl", "-q")
    assert code == 0, err
    records = [strict(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records and all(r["val_auc"] is None for r in records)

    code, out, err = cli("evaluate", tmp_path / "m.h5", one_class, "--json")
    assert code == 0 and strict(out)["auc"] is None

    code, out, err = cli("show", tmp_path / "m.h5", "--json")
    card = strict(out)
    assert code == 0 and card["training"]["lr_auto"]["lambda_max"] is None  # adam's rate needs no eigenvalue

    code, out, err = cli("info", data, "--json")
    assert code == 0 and strict(out)["datasets"]

    reg_X, reg_y = make_problem("regression", n=500, d=4, seed=2)
    reg = write_table(tmp_path / "r.h5", reg_X * 100, reg_y)
    code, out, err = cli("sweep", reg, "--model", "linear", "--batch-sizes", "8", "--lrs", "0.001,1000", "--epochs",
                         "2", "--json", "--metrics-dir", tmp_path / "runs", "-q")
    assert code == 0, err
    runs = strict(out)
    diverged = [r for r in runs if r["diverged"]]
    assert diverged and any(v is None for r in diverged for v in r.values())
    for path in (tmp_path / "runs").iterdir():
        for line in path.read_text().splitlines():
            strict(line)


@pytest.mark.parametrize("value,expected", [
    ({"a": float("nan"), "b": [1.0, float("inf")], "c": (2.0, -float("inf"))}, {"a": None, "b": [1.0, None],
                                                                                "c": [2.0, None]}),
    (np.array([1.5, np.nan]), [1.5, None]),
    ({"x": np.float32(np.inf), "y": np.int64(3)}, {"x": None, "y": 3}),
])
def test_the_json_writer_replaces_what_is_not_finite(value, expected):
    from sgdcli.data.jsontext import dumps

    assert strict(dumps(value)) == expected
