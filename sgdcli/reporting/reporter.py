"""What a training run reports, and the texts every renderer shares.

``Reporter`` is the interface the training loop calls, and does nothing; the
renderers (renderers.py chooses one) subclass it.  The training loop is
handed a reporter and never imports a renderer, nor rich.
"""

from __future__ import annotations

import inspect
import re

from sgdcli.data.pathtext import attr_text


class Reporter:
    """Does nothing; the base of every reporter."""

    def begin(self, *, epochs: int, iterations: int, rows: int, batch_size: int, lr: float,
              batch: str | None = None) -> None:
        """A run begins: ``batch``, its batch in words where not "batch ``batch_size``" (``batch_words``)."""

    def resumed(self, *, epoch: int, iteration: int, rows: int, records: list[dict]) -> None:
        """After ``begin``, where the run continues from a checkpoint: in epoch ``epoch`` (from 0), of which
        ``iteration`` iterations and ``rows`` rows were done before the resume (the epoch's ``advance`` calls
        count from its start, those included), after the epochs whose records are ``records``."""

    def epoch_start(self, epoch: int) -> None: ...

    def advance(self, epoch: int, iteration: int, rows: int, loss: float, lr: float, detail: str = "") -> None:
        """``detail``: extra state to show, such as each worker's place in a distributed run."""

    def epoch_end(self, record: dict) -> None: ...

    def message(self, text: str) -> None: ...

    def pass_progress(self, stage: str, done: int, total: int) -> None:
        """A pass over a file outside the epochs' iterations (reading the labels, standardizing, checking the
        --val file, counting the rows of averaged models' shares, validating), named by ``stage``, has read
        ``done`` of its ``total`` rows: told as it starts (``done`` 0) and then as each block is read."""

    def close(self) -> None: ...


def done_before(resumed: tuple[int, int, int] | None, epoch: int) -> tuple[int, int]:
    """The iterations and rows of epoch ``epoch`` (starting now) done before this process started it, which its
    rate and time left leave out: those of ``resumed`` (the epoch, iterations and rows ``Reporter.resumed`` was
    told of) where that is this epoch, else none.  A renderer asks at the first ``epoch_start`` after a resume
    only: a run that blew up after it starts over from epoch 0."""
    return (resumed[1], resumed[2]) if resumed is not None and resumed[0] == epoch else (0, 0)


def printable(text: str) -> str:
    """``text`` as one line that shows every character it holds: each that does not print (in a name read from a
    file or given on the command line: an escape sequence, a bell, a newline, a tab) written as its escape
    (``\\x1b``, ``\\x07``, ``\\n``, ``\\t``), so that it neither drives the terminal, nor vanishes (click strips
    escape sequences off a terminal), nor splits the line.

    The bytes of a name that Python could not decode (a Latin-1 file name; any name outside ASCII under an
    ASCII locale without Python's UTF-8 mode), which it holds as lone surrogates, are read as UTF-8 where they
    are (``é``), and each other one is written as that byte (``\\xe9``), as ``--print-config`` shows such names;
    so are they where a message quotes the name (its repr, which writes them ``\\udce9``): the surrogates are
    Python's, the bytes are the name's.  A name's own six characters ``\\udce9`` show as they are (a repr
    doubles their backslash; unquoted, they are outside any repr)."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                       for c in _bytes_read(text))
    return _REPR.sub(_repr_bytes, text) if "\\udc" in text else text


def _bytes_read(text: str) -> str:
    """``text`` with the bytes its surrogates stand for read as UTF-8, each other one as ``\\xe9`` (``attr_text``);
    as it is where a surrogate stands for no byte (its escape, ``\\ud800``, is then what shows)."""
    try:
        return attr_text(text)
    except UnicodeEncodeError:
        return text


# a string as a repr writes it (quoted, each quote and backslash inside escaped; not the end of a word, as in
# "model's"): only there do the six characters \\udce9 stand for a lone surrogate, elsewhere they are a name's own
_REPR = re.compile(r"""(?<![\w\\])(['"])(?:\\.|(?!\1)[^\\])*\1""")
# a run of the escapes \\udc80 to \\udcff that a repr writes for lone surrogates: each an odd number of
# backslashes before "udc" (an even one is a backslash of the name's own, which a repr doubles, then udc)
_QUOTED_SURROGATES = re.compile(r"(?<!\\)((?:\\\\)*)((?:\\udc[89a-f][0-9a-f])+)")


def _repr_bytes(match: re.Match) -> str:
    """The repr ``match`` holds with its quoted surrogates written as the bytes they stand for."""
    return _QUOTED_SURROGATES.sub(_quoted_bytes, match.group(0))


def _quoted_bytes(match: re.Match) -> str:
    """The run of quoted surrogates ``match`` holds as the bytes they stand for: UTF-8 text where they are,
    each other byte as ``\\xe9``."""
    text = bytes(int(escape[3:], 16) for escape in match.group(2).split("\\")[1:]).decode("utf-8", "backslashreplace")
    return match.group(1) + printable(text)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, plural unless n is 1: "1 iteration", "562 iterations" (``plural``, where it is not the
    noun and "s": "2 processes")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def training_line(*, epochs, iterations, rows, batch_size, lr, batch: str | None = None) -> str:
    """The line a run begins with: what one epoch is, in iterations of the batch size (``batch``: in words)."""
    return (f"training on {counted(rows, 'row')}: {counted(epochs, 'epoch')} × {counted(iterations, 'iteration')} "
            f"of {batch or f'batch {batch_size}'}, lr {lr:.4g}")


def begin_run(reporter: Reporter, **kwargs) -> None:
    """``reporter.begin(**kwargs)``, without ``batch`` where its ``begin`` takes no such keyword: one written as
    docs/python-api.md showed it before ``batch`` was passed failed the run with a TypeError."""
    try:
        parameters = inspect.signature(reporter.begin).parameters.values()
    except (TypeError, ValueError):  # a begin whose signature Python cannot tell (a builtin's): every keyword
        parameters = None
    if parameters is not None and not any(p.name == "batch" or p.kind is inspect.Parameter.VAR_KEYWORD
                                          for p in parameters):
        kwargs.pop("batch", None)
    reporter.begin(**kwargs)


def batch_words(batch: int, share: int | None, unit: str) -> str:
    """The batch of a run as its lines say it: "batch B"; or, where each thread or worker (``unit``) of averaged
    models takes its steps on its ``share`` of an epoch's rows (None: one model) and that share is less than B,
    "a thread's whole share of the rows, about S" (a full batch of 20,000 rows on 2 threads said "batch 20000",
    though each thread stepped on 10,000)."""
    return f"batch {batch}" if share is None or batch <= share else f"a {unit}'s whole share of the rows, about {share}"


def epoch_summary(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", counted(record["iterations"], "iteration"),
             f"train_loss {record['train_loss']:.6g}"]
    for key in ("penalty", "objective", "val_loss", "val_accuracy", "val_rmse"):  # (the first two: --l2's, --l1's)
        if key in record:
            parts.append(f"{key} {record[key]:.6g}")
    parts.append(f"lr {record['lr']:.4g}")
    parts.append(f"{record['seconds']:.2f} s")
    parts.append(f"{format_rate(record['rows_per_s'])} rows/s")
    return ", ".join(parts)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    """One character per value, ▁ for the smallest and █ for the largest; a space for NaN or inf."""
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    out = []
    for v in values:
        if not (v == v and abs(v) != float("inf")):
            out.append(" ")
        elif hi == lo:
            out.append(SPARKS[0])
        else:
            out.append(SPARKS[min(int((v - lo) / (hi - lo) * len(SPARKS)), len(SPARKS) - 1)])
    return "".join(out)


def loss_curves(records: list[dict]) -> str:
    """'loss per epoch: train ▇▄▂▁ 0.51 → 0.40, val ▆▃▂▁ 0.43 → 0.37' for a run's epoch records (under --l2 or
    --l1, the training objective's after train)."""
    parts = []
    for name, key in (("train", "train_loss"), ("objective", "objective"), ("val", "val_loss")):
        values = [r[key] for r in records if key in r]
        if values:
            parts.append(f"{name} {sparkline(values)} {values[0]:.4g} → {values[-1]:.4g}")
    return "loss per epoch: " + ", ".join(parts)


def loss_text(iteration: int, loss: float, digits: int) -> str:
    """The running loss of an epoch as progress shows it, after ``iteration`` updates of the epoch: "loss -"
    before the first, whose batch's loss is not summed until its step (the loss heard then is 0)."""
    return f"loss {loss:.{digits}g}" if iteration > 0 else "loss -"


def format_rate(rate: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.2f}{unit}"
    return f"{rate:.0f}"


def clock_text(seconds: float) -> str:
    """``seconds`` as H:MM:SS."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
