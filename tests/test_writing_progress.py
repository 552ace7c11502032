"""convert tells how far each pass over its input has read, and generate how far it has written: a CSV file of
tens of GB took many minutes with no line on stderr, and its first pass (--categorical, --missing mean,
LIBSVM's widest row) as many again."""

import functools

import h5py
import numpy as np
import pytest

import sgdcli

from conftest import cli

ROWS = 5_000


class Told:
    """Each (stage, done, total) told, in order."""

    def __init__(self):
        self.calls = []

    def __call__(self, stage, done, total):
        self.calls.append((stage, done, total))

    def passes(self) -> list[tuple[str, list[int], set]]:
        """(stage, rows done as told, totals told) of each pass, in order: a pass starts at 0 rows."""
        starts = [i for i, (_, done, _) in enumerate(self.calls) if done == 0] + [len(self.calls)]
        assert starts[0] == 0
        return [(self.calls[a][0], [done for _, done, _ in self.calls[a:b]], {t for *_, t in self.calls[a:b]})
                for a, b in zip(starts[:-1], starts[1:])]


def _csv(path, categorical=False):
    rng = np.random.default_rng(0)
    lines = ["a,b,c,y"] + [f"{rng.normal():.3f},{'xyz'[i % 3] if categorical else i % 7},{rng.normal():.3f},{i % 2}"
                           for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _rising_to(dones: list[int], last: int) -> None:
    assert dones[0] == 0 and dones[-1] == last, dones
    assert len(dones) >= 4 and (np.diff(dones) > 0).all(), dones


@pytest.mark.parametrize("engine", ["python", "pyarrow"])
def test_a_csv_conversion_tells_its_rows_written(tmp_path, monkeypatch, engine):
    from sgdcli.data import csvtext

    monkeypatch.setattr(csvtext, "ARROW_BLOCK_BYTES", 16 << 10)  # pyarrow's blocks are cut by bytes
    told = Told()
    data = _csv(tmp_path / "d.csv")
    sgdcli.convert(data, tmp_path / "d.h5", engine=engine, block_rows=1000, progress=told)
    ((stage, dones, totals),) = told.passes()
    assert stage == f"converting {data}" and totals == {None}  # text: rows counted as they come
    _rising_to(dones, ROWS)


def test_a_first_pass_tells_its_rows_before_the_conversion_does(tmp_path):
    told = Told()
    data = _csv(tmp_path / "d.csv", categorical=True)
    sgdcli.convert(data, tmp_path / "d.h5", categorical="b", missing="mean", block_rows=1000, progress=told)
    (first, dones1, totals1), (converting, dones2, _) = told.passes()
    assert (first, converting) == (f"first pass over {data}", f"converting {data}") and totals1 == {None}
    _rising_to(dones1, ROWS)
    _rising_to(dones2, ROWS)


def test_libsvms_widest_row_pass_tells_its_lines(tmp_path, monkeypatch):
    from sgdcli.data import svmtext

    monkeypatch.setattr(svmtext, "TOLD_LINES", 1000)
    data = tmp_path / "d.svm"
    data.write_text("".join(f"{i % 2} 1:{i} {i % 5 + 2}:1\n" for i in range(ROWS)))
    told = Told()
    sgdcli.convert(str(data), tmp_path / "d.h5", sparse=False, block_rows=1000, progress=told)
    (first, dones, _), (converting, _, _) = told.passes()
    assert first == f"first pass over {data}"
    assert dones == [0, 1000, 2000, 3000, 4000, 5000]


def test_a_npy_conversion_tells_its_total(tmp_path):
    X = np.random.default_rng(0).normal(size=(ROWS, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", np.column_stack([X, np.arange(ROWS) % 2]))
    told = Told()
    sgdcli.convert(str(tmp_path / "x.npy"), tmp_path / "d.h5", label_column="-1", block_rows=1000, progress=told)
    ((stage, dones, totals),) = told.passes()
    assert totals == {ROWS}
    _rising_to(dones, ROWS)


def test_generate_tells_its_rows_written_of_all(tmp_path):
    told = Told()
    sgdcli.generate(tmp_path / "g.h5", rows=600_000, features=5, progress=told)
    ((stage, dones, totals),) = told.passes()
    assert stage == f"generating {tmp_path / 'g.h5'}" and totals == {600_000}
    assert dones[0] == 0 and dones[-1] == 600_000 and len(dones) >= 3 and (np.diff(dones) > 0).all()


@pytest.mark.parametrize("command", ["convert", "generate"])
def test_q_silences_the_progress_of_convert_and_generate(tmp_path, monkeypatch, command):
    from sgdcli.cli import data_commands
    from sgdcli.reporting.plain import StageLines

    monkeypatch.setattr(data_commands, "StageLines", functools.partial(StageLines, interval=0.0))
    args = ["convert", _csv(tmp_path / "d.csv"), "-o"] if command == "convert" else ["generate", "--rows", "300000"]
    code, _, err = cli(*args, tmp_path / "d.h5")
    assert code == 0 and {"convert": "converting ", "generate": "generating "}[command] in err
    code, _, err = cli(*args, tmp_path / "e.h5", "-q")
    assert (code, err) == (0, "")


def test_converts_lines_say_the_rows_and_rate(tmp_path, monkeypatch):
    from sgdcli.cli import data_commands
    from sgdcli.reporting.plain import StageLines

    monkeypatch.setattr(data_commands, "StageLines", functools.partial(StageLines, interval=0.0))
    data = _csv(tmp_path / "d.csv")
    code, out, err = cli("convert", data, "-o", tmp_path / "d.h5")
    assert code == 0 and out == f"wrote {tmp_path / 'd.h5'}: {ROWS} rows × 3 features from csv\n"
    lines = [line.split(" ", 1)[1] for line in err.splitlines()]
    assert lines and all(line.startswith(f"converting {data}: ") and line.endswith(" rows/s") for line in lines), err
    assert lines[-1].startswith(f"converting {data}: {ROWS:,} rows, ")
    with h5py.File(tmp_path / "d.h5") as f:
        assert f["X"].shape == (ROWS, 3)
