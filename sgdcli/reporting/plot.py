"""Learning curves: loss against epoch, iterations and wall time, for one run or several (under --l2 or --l1,
the training objective too).

The input is what ``train --metrics`` and ``sweep --metrics-dir`` write: one
JSON object per epoch.  matplotlib is an optional extra (``.[plot]``);
it is imported only here.  The figure is drawn without pyplot and its
backends (a ``Figure`` saved by the canvas of its file format), so plotting
works without a display and whatever backend MPLBACKEND or a matplotlibrc
names.  The image is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import json
import math
import os

from sgdcli.errors import EMPTY_PATH, InputError, missing_extra, utf8_text

FORMATS = ("png", "pdf", "svg")
# the curves of a run, by record key: their names in the legend and their lines (the objective: --l2's, --l1's)
CURVES = {"train_loss": ("train", "-"), "objective": ("objective", ":"), "val_loss": ("val", "--")}


def read_history(path: str) -> list[dict]:
    """The epoch records of a metrics JSONL file, checked (none: an empty file); InputError naming the file and
    line otherwise."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    lines = utf8_text(raw, path, "a train --metrics file").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not all(k in record for k in ("epoch", "iterations", "seconds", "train_loss")):
            raise InputError(f"{path}: line {number}: not an sgdcli epoch record (needs epoch, iterations, seconds, "
                             f"train_loss; written by train --metrics)")
        wrong = _wrong_value(record)
        if wrong:
            raise InputError(f"{path}: line {number}: not an sgdcli epoch record ({wrong})")
        if records and not record["epoch"] > records[-1]["epoch"]:  # train writes one run a file, epochs rising
            raise InputError(f"{path}: line {number}: epoch {record['epoch']:g} after epoch {records[-1]['epoch']:g}: "
                             "the records of more than one run (files joined?); give each run's file apart")
        records.append(record)
    return records


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _wrong_value(record: dict) -> str | None:
    """Which value the curves need is not a number (the losses: nor null, a non-finite loss as JSON writes it)."""
    for key in ("epoch", "iterations", "seconds"):
        if not _number(record[key]):
            return f"{key} is not a number"
    for key in CURVES:
        if record.get(key) is not None and not _number(record[key]):
            return f"{key} is neither a number nor null"
    return None


def curves(records: list[dict]) -> dict[str, list[float]]:
    """x axes (epoch, cumulative iterations, cumulative seconds) and losses (None → NaN) of one run."""
    iterations, seconds = [], []
    it = sec = 0.0
    for r in records:
        it += r["iterations"]
        sec += r["seconds"]
        iterations.append(it)
        seconds.append(sec)
    nan = float("nan")
    return {
        "epoch": [float(r["epoch"]) for r in records],
        "iterations": iterations,
        "seconds": seconds,
        **{key: [nan if r.get(key) is None else float(r[key]) for r in records] for key in CURVES},
    }


def require(what: str) -> None:
    """If matplotlib is missing, InputError (exit 2) naming ``what`` (the command or option that draws) and saying
    how to install it."""
    _matplotlib(what)


def _matplotlib(what: str = "plotting"):
    """matplotlib, imported with MPLBACKEND hidden from it: its import checks the variable and raised ValueError
    for a name it does not know, though no backend of pyplot's is ever used here."""
    backend = os.environ.pop("MPLBACKEND", None)
    try:
        import matplotlib
    except ImportError:
        raise missing_extra(what, "matplotlib", "plot") from None
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
    return matplotlib


def figure(runs: list[tuple[str, list[dict]]]):
    """A figure of three panels (loss against epoch, iterations, seconds), one color per run, a line style per
    curve (CURVES); a curve with no value in a run's records is not drawn."""
    _matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    drawn = [[key for key in CURVES if key == "train_loss" or any(r.get(key) is not None for r in records)]
             for _, records in runs]
    entries = sum(map(len, drawn))
    columns = min(entries, 4)
    # the legend below the panels, where it hides no curve: as many rows as it needs
    fig = Figure(figsize=(15, 4.5 + 0.25 * math.ceil(entries / max(columns, 1))), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    for index, ((label, records), keys) in enumerate(zip(runs, drawn)):
        c = curves(records)
        color = f"C{index % 10}"
        for ax, x in zip(axes, ("epoch", "iterations", "seconds")):
            for key in keys:
                name, style = CURVES[key]
                ax.plot(c[x], c[key], color=color, linestyle=style, marker="s" if key == "val_loss" else "o",
                        markersize=3, label=f"{label} {name}")
    for ax, title in zip(axes, ("epoch", "iterations (updates)", "training time (s)")):
        ax.set_xlabel(title)
        ax.grid(True, alpha=0.3)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("loss")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=max(columns, 1),
               fontsize="small")
    fig.suptitle("learning curves: training (solid) and validation (dashed) loss"
                 + (", training objective (dotted)" if any("objective" in keys for keys in drawn) else ""))
    return fig


def output_format(output: str, option: str = "-o") -> str:
    if not output:  # (the line the run gives, from check_writable, --print-config gives too)
        raise InputError(f"{option}: {EMPTY_PATH}")
    fmt = os.path.splitext(output)[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"{option} {output}: cannot tell the image format; end the name in .png, .pdf or .svg")
    return fmt


def check_output(output: str, option: str = "-o", inputs=(), probe: bool = True) -> str:
    """Fail before any work if ``output`` cannot be written, would replace one of ``inputs`` or names no image
    format; return the format.  ``probe``: as check_writable's (False: --print-config, which creates nothing)."""
    from sgdcli.data.atomic import check_writable

    check_writable(output, option, inputs, probe)
    return output_format(output, option)


def save(runs: list[tuple[str, list[dict]]], output: str, option: str = "-o") -> None:
    """Draw ``runs`` (label, epoch records) into ``output`` (png, pdf or svg), atomically."""
    from sgdcli.data.atomic import atomic_output

    fmt = output_format(output, option)
    fig = figure(runs)
    with atomic_output(output, option) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)


def plot_files(paths: list[str], output: str, warn=None) -> int:
    """``sgdcli plot``: the runs in ``paths`` (labelled by file name) into ``output``; returns how many.  A file
    with no epochs among others with some (a run of ``sweep --metrics-dir`` that diverged in its first epoch)
    is left out, and ``warn(text)`` told; alone, it is an error."""
    check_output(output, inputs=paths)
    first = {}
    for path in paths:  # one run twice is one curve over another, under one name in the legend twice
        real = os.path.realpath(path)
        if real in first:
            raise InputError(f"{path}: given twice{'' if first[real] == path else f' (as {first[real]})'}; give "
                             "each run once")
        first[real] = path
    require("sgdcli plot")
    histories = [(path, read_history(path)) for path in paths]
    empty = [path for path, records in histories if not records]
    if len(empty) == len(paths):
        raise InputError(f"{empty[0]}: no epochs in it")
    for path in empty:
        if warn is not None:
            warn(f"left out {path}: no epochs in it (a run that diverged in its first epoch?)")
    kept = [(path, records) for path, records in histories if records]
    save(list(zip(labels([path for path, _ in kept]), (records for _, records in kept))), output)
    return len(kept)


def labels(paths: list[str]) -> list[str]:
    """Each file's label in the legend: its name without the extension, after as many of the directories it is in
    as tell it from the other files (runs/a/metrics.jsonl and runs/b/metrics.jsonl: a/metrics and b/metrics)."""
    parts = [os.path.normpath(path).split(os.sep) for path in paths]
    for named in parts:
        named[-1] = os.path.splitext(named[-1])[0]
    depth = [1] * len(paths)
    while True:
        shown = [os.sep.join(named[-d:]) for named, d in zip(parts, depth)]
        longer = [i for i, label in enumerate(shown) if shown.count(label) > 1 and depth[i] < len(parts[i])]
        if not longer:
            return shown
        for i in longer:
            depth[i] += 1
