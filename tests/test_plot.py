"""sgdcli plot and sweep --plot: the curves drawn are the records, the image lands atomically."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli, run_process, without

pytest.importorskip("matplotlib")

from sgdcli.reporting import plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def runs(tmp_path, binary_file):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert cli("train", binary_file, "-o", tmp_path / "a.h5", "-q", "--epochs", "3", "--val-fraction", "0.2", "--metrics", a)[0] == 0
    assert cli("train", binary_file, "-o", tmp_path / "b.h5", "-q", "--epochs", "2", "--batch-size", "128", "--metrics", b)[0] == 0
    return str(a), str(b)


def records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_the_lines_drawn_are_the_records(runs):
    a, b = records(runs[0]), records(runs[1])
    fig = plot.figure([("a", a), ("b", b)])
    by_epoch, by_iteration, by_time = fig.axes
    lines = {line.get_label(): line for line in by_epoch.lines}
    assert sorted(lines) == ["a train", "a val", "b train"]  # b had no validation
    assert list(lines["a train"].get_xdata()) == [1, 2, 3]
    assert list(lines["a train"].get_ydata()) == [r["train_loss"] for r in a]
    assert list(lines["a val"].get_ydata()) == [r["val_loss"] for r in a]
    assert lines["a val"].get_linestyle() == "--"
    iters = {line.get_label(): list(line.get_xdata()) for line in by_iteration.lines}
    assert iters["b train"] == list(itertools.accumulate(r["iterations"] for r in b))
    seconds = {line.get_label(): list(line.get_xdata()) for line in by_time.lines}
    assert seconds["a train"] == pytest.approx(list(itertools.accumulate(r["seconds"] for r in a)))
    (legend,) = fig.legends  # one, below the panels, not over the curves of the first
    assert [t.get_text() for t in legend.get_texts()] == ["a train", "a val", "b train"]


def test_a_penalized_runs_training_objective_is_drawn_dotted(tmp_path, binary_file, runs):
    """Under --l1 the mean loss can rise while the run converges: its records' training objective (the loss plus
    the penalty of the weights it was measured at) is drawn beside it, and named in the legend and the title."""
    c = tmp_path / "c.jsonl"
    assert cli("train", binary_file, "-o", tmp_path / "c.h5", "-q", "--epochs", "3", "--l1", "0.01",
               "--val-fraction", "0.2", "--metrics", c)[0] == 0
    fig = plot.figure([("c", records(c)), ("b", records(runs[1]))])
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    assert sorted(lines) == ["b train", "c objective", "c train", "c val"]
    assert list(lines["c objective"].get_ydata()) == [r["objective"] for r in records(c)]
    assert lines["c objective"].get_linestyle() == ":"
    assert lines["c objective"].get_color() == lines["c train"].get_color()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["c train", "c objective", "c val", "b train"]
    assert fig.get_suptitle().endswith(", training objective (dotted)")
    assert "objective" not in plot.figure([("b", records(runs[1]))]).get_suptitle()


def test_plot_command_writes_an_image(tmp_path, runs):
    out = tmp_path / "curves.png"
    code, stdout, err = cli("plot", *runs, "-o", out)
    assert code == 0, err
    assert stdout.strip() == f"wrote {out}: 2 runs"
    assert out.read_bytes().startswith(PNG)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".curves")] == []  # no temporary left


def test_an_image_path_from_a_file_or_a_variable_names_where_it_came_from(tmp_path, runs, binary_file, monkeypatch):
    """plot's -o from a --config file or SGDCLI_PLOT_OUTPUT was refused without its source, which every other
    option's line names; an empty one was "cannot tell the image format" to --print-config and "the path is
    empty" to the run (the docs promise one line)."""
    config = tmp_path / "c.toml"
    config.write_text('[plot]\noutput = "x.gif"\n')
    said = "x.gif: cannot tell the image format; end the name in .png, .pdf or .svg\n"
    assert cli("plot", runs[0], "--config", config) == (2, "", f"sgdcli: error: -o (from {config} [plot] output) "
                                                               f"{said}")
    config.write_text('[plot]\noutput = ""\n')
    for extra in ((), ("--print-config",)):
        assert cli("plot", runs[0], "--config", config, *extra) == (
            2, "", f"sgdcli: error: -o (from {config} [plot] output): the path is empty (an unset shell variable?)\n")
    config.write_text('[sweep]\nbatch_sizes = [32]\nplot = ""\n')
    for extra in (("-q", "--epochs", "1"), ("--print-config",)):
        assert cli("sweep", binary_file, "--config", config, *extra) == (
            2, "", f"sgdcli: error: --plot (from {config} [sweep] plot): the path is empty (an unset shell "
                   "variable?)\n")
    monkeypatch.setenv("SGDCLI_PLOT_OUTPUT", "x.gif")
    assert cli("plot", runs[0]) == (2, "", f"sgdcli: error: -o (from SGDCLI_PLOT_OUTPUT) {said}")
    assert cli("plot", runs[0], "-o", "x.gif") == (2, "", f"sgdcli: error: -o {said}")  # the command line's as is


def test_a_run_with_no_epochs_among_others_is_left_out_with_a_note(tmp_path, runs):
    """sweep --metrics-dir writes an empty file for a run that diverged in its first epoch, and plot md/*.jsonl
    failed on it."""
    empty = tmp_path / "run02-batch-1-lr-100.jsonl"
    empty.write_text("")
    code, out, err = cli("plot", runs[0], empty, runs[1], "-o", tmp_path / "c.png")
    assert (code, out.strip()) == (0, f"wrote {tmp_path / 'c.png'}: 2 runs"), err
    assert err.strip() == f"sgdcli: left out {empty}: no epochs in it (a run that diverged in its first epoch?)"


@pytest.mark.parametrize("content,message", [
    ("", "{path}: no epochs in it"),
    ('{"epoch": 1}\n', "{path}: line 1: not an sgdcli epoch record (needs epoch, iterations, seconds, train_loss; "
                       "written by train --metrics)"),
    ('{"epoch": 1, "iterations": 3, "seconds": 1, "train_loss": 0.5}\nnot json\n', "{path}: line 2: not JSON (Expecting value)"),
])
def test_bad_metrics_files_are_usage_errors(tmp_path, content, message):
    path = tmp_path / "m.jsonl"
    path.write_text(content)
    code, out, err = cli("plot", path, "-o", tmp_path / "c.png")
    assert (code, out) == (2, "")
    assert err.strip() == "sgdcli: error: " + message.format(path=path)
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("record,message", [
    ('{"epoch": 1, "iterations": "3", "seconds": 1, "train_loss": 0.5}', "iterations is not a number"),
    ('{"epoch": [1], "iterations": 3, "seconds": 1, "train_loss": 0.5}', "epoch is not a number"),
    ('{"epoch": 1, "iterations": 3, "seconds": null, "train_loss": 0.5}', "seconds is not a number"),
    ('{"epoch": 1, "iterations": 3, "seconds": 1, "train_loss": "low"}', "train_loss is neither a number nor null"),
    ('{"epoch": 1, "iterations": 3, "seconds": 1, "train_loss": 0.5, "val_loss": {}}',
     "val_loss is neither a number nor null"),
    ('{"epoch": true, "iterations": 3, "seconds": 1, "train_loss": 0.5}', "epoch is not a number"),
    ('{"epoch": 1, "iterations": 3, "seconds": 1, "train_loss": 0.5, "objective": "0.6"}',
     "objective is neither a number nor null"),
])
def test_records_whose_values_are_not_numbers_are_usage_errors(tmp_path, record, message):
    """An internal error before, where the curves added or converted the value (true was plotted as 1)."""
    path = tmp_path / "m.jsonl"
    path.write_text('{"epoch": 1, "iterations": 3, "seconds": 1, "train_loss": 0.5}\n' + record + "\n")
    code, out, err = cli("plot", path, "-o", tmp_path / "c.png")
    assert (code, out, err) == (2, "", f"sgdcli: error: {path}: line 2: not an sgdcli epoch record ({message})\n")


def test_runs_joined_into_one_file_are_refused_and_an_input_is_never_the_image(tmp_path, runs):
    """cat a.jsonl b.jsonl was drawn as one run whose epoch axis went back to 1, its iterations and time summed
    over both; one file given twice, two curves under one name; plot m.png -o m.png replaced its own records by
    the image."""
    a, b = runs
    joined = tmp_path / "joined.jsonl"
    joined.write_text(Path(a).read_text() + Path(b).read_text())
    assert cli("plot", joined, "-o", tmp_path / "c.png") == (
        2, "", f"sgdcli: error: {joined}: line 4: epoch 1 after epoch 3: the records of more than one run (files "
               "joined?); give each run's file apart\n")
    again = tmp_path / "again.jsonl"
    again.write_text(Path(b).read_text().splitlines()[0] + "\n" + Path(b).read_text())
    assert cli("plot", again, "-o", tmp_path / "c.png")[2].startswith(f"sgdcli: error: {again}: line 2: epoch 1 "
                                                                       "after epoch 1: ")
    assert not (tmp_path / "c.png").exists()
    for twice, said in ((a, ""), (os.path.join(os.path.dirname(a), ".", os.path.basename(a)), f" (as {a})")):
        assert cli("plot", a, b, twice, "-o", tmp_path / "c.png") == (
            2, "", f"sgdcli: error: {twice}: given twice{said}; give each run once\n")
    image = tmp_path / "a.png"
    image.write_text(Path(a).read_text())
    assert cli("plot", b, image, "-o", image) == (2, "", f"sgdcli: error: -o {image}: is also an input of this "
                                                         "command; choose another output path\n")
    assert image.read_text() == Path(a).read_text()


def test_a_file_that_is_not_utf8_text_is_not_a_metrics_file(tmp_path, binary_file, runs):
    """An HDF5 file, or a metrics file with a byte that is not UTF-8 on its third line: the file and the line (an
    internal error before)."""
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(Path(runs[0]).read_bytes().split(b"\n")[0] + b"\n\n\xff\n")
    for path, line, byte in ((binary_file, 1, "\\x89"), (latin, 3, "\\xff")):
        code, out, err = cli("plot", runs[1], path, "-o", tmp_path / "c.png")
        assert (code, out, err) == (2, "", f"sgdcli: error: {path}: line {line}: not UTF-8 text (bytes b'{byte}': "
                                           "invalid start byte), so not a train --metrics file\n")
    assert not (tmp_path / "c.png").exists()


def test_unknown_image_format_and_missing_file(tmp_path, runs):
    code, _, err = cli("plot", *runs, "-o", tmp_path / "c.jpeg")
    assert code == 2 and err.strip() == (f"sgdcli: error: -o {tmp_path / 'c.jpeg'}: cannot tell the image format; "
                                         "end the name in .png, .pdf or .svg")
    code, _, err = cli("plot", tmp_path / "none.jsonl", "-o", tmp_path / "c.png")
    assert code == 2 and err.strip() == f"sgdcli: error: {tmp_path / 'none.jsonl'}: cannot read it (No such file or directory)"


WITHOUT_MATPLOTLIB = without("matplotlib")


@pytest.mark.parametrize("command", ["plot", "sweep"])
def test_without_matplotlib_it_says_how_to_install_it(tmp_path, runs, binary_file, command):
    args = ["plot", *runs, "-o", str(tmp_path / "c.png")] if command == "plot" else \
        ["sweep", binary_file, "--batch-sizes", "8", "--plot", str(tmp_path / "c.png")]
    proc = subprocess.run([sys.executable, "-c", WITHOUT_MATPLOTLIB, *args], capture_output=True, text=True)
    assert proc.returncode == 2  # as every missing extra (it was 1, where --dask's was 2)
    what = "sgdcli plot" if command == "plot" else "--plot"
    assert proc.stderr.strip() == (f"sgdcli: error: {what} needs matplotlib, which is not installed: "
                                   "run .venv/bin/pip install -e '.[plot]' in the sgdcli checkout")
    assert proc.stdout == "" and not os.path.exists(tmp_path / "c.png")  # sweep stopped before training


def test_sweep_plot_draws_every_run(tmp_path, binary_file):
    out = tmp_path / "sweep.svg"
    code, stdout, err = cli("sweep", binary_file, "--batch-sizes", "16,full", "--lrs", "0.1", "--epochs", "2", "-q",
                            "--plot", out)
    assert code == 0, err
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "batch 16, lr 0.1 train" in text and "batch full, lr 0.1 train" in text


def test_the_environment_names_no_backend_that_breaks_a_plot(tmp_path, runs):
    """MPLBACKEND=nonsense was "internal error: ValueError: Key backend: 'nonsense' is not a valid value", though the
    image is drawn off-screen whatever the backend.  A real process: matplotlib reads the variable when imported."""
    out = tmp_path / "c.png"
    proc = run_process("plot", *runs, "-o", out, env={"MPLBACKEND": "nonsense"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"wrote {out}: 2 runs\n", "")
    assert out.read_bytes().startswith(PNG)


def test_runs_whose_files_share_a_name_are_told_apart_by_their_directories(tmp_path, runs):
    """runs/a/metrics.jsonl and runs/b/metrics.jsonl were both labelled "metrics": two colors, no way to tell which
    run was which."""
    for name, source in zip("ab", runs):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_bytes(Path(source).read_bytes())
    out = tmp_path / "c.svg"
    code, stdout, err = cli("plot", tmp_path / "a" / "metrics.jsonl", tmp_path / "b" / "metrics.jsonl", "-o", out)
    assert code == 0, err
    text = out.read_text()
    assert "a/metrics train" in text and "a/metrics val" in text and "b/metrics train" in text
    assert plot.labels(["runs/a/metrics.jsonl", "runs/b/metrics.jsonl", "c.jsonl"]) == ["a/metrics", "b/metrics", "c"]
    assert plot.labels(["x/a/m.jsonl", "y/a/m.jsonl", "y/b/n.jsonl"]) == ["x/a/m", "y/a/m", "n"]
    assert plot.labels(["runs/run01.jsonl", "runs/run02.jsonl"]) == ["run01", "run02"]
