import contextlib
import os
import subprocess
import sys
import warnings
from typing import NamedTuple

import h5py
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The suite turns every warning into an error (filterwarnings in pyproject.toml).  A test whose fits are short on
# purpose (a few rows, epochs or updates, to test something other than the fit) gets FitWarnings that are right
# and beside its point: it says so with this mark (on the test, or as the module's ``pytestmark``).  A test about
# a FitWarning asserts it with ``pytest.warns`` instead.
short_fits = pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.FitWarning")

# sgdcli's own warning categories: a command shows each as a line on stderr (``sgdcli: warning: ...``), as a
# shell does, though the suite's filter would make it an error (``run``).  tests/test_warning_origin.py checks
# that the list names every Warning class in sgdcli.
SGDCLI_WARNINGS = ("sgdcli.training.fitwarnings.FitWarning", "sgdcli.training.checkpoint.StaleCheckpoint",
                   "sgdcli.training.runlog.ShuffleWarning", "sgdcli.training.runlog.ScaleWarning",
                   "sgdcli.kernels.jit.UncachedKernels",
                   "sgdcli.kernels.jit.CacheDirSkipped", "sgdcli.kernels.runtime.ThreadsCapped",
                   "sgdcli.data.csvdecode.NoValues", "sgdcli.data.csvdecode.ManyValues",
                   "sgdcli.data.csvcolumns.UnnamedColumn",
                   "sgdcli.data.csvsniff.NumberedHeader",
                   "sgdcli.data.unwritten.AllocatedEarly", "sgdcli.data.anndatafiles.CategoryCodes", "sgdcli.data.valuerange.CoarseFeatures",
                   "sgdcli.training.runlog.EmptyName", "sgdcli.training.runlog.WeightFeature",
                   "sgdcli.cli.unused.UnusedOption")


def _warning_class(name: str) -> type[Warning]:
    import importlib

    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


@contextlib.contextmanager
def _as_lines():
    """Filters under which a command run in this process shows sgdcli's own warnings as a shell shows them, lines
    on stderr that the test reads, where the filters in force would raise them (the suite's "error", which would
    make each an internal error, exit 1); every other warning (NumPy's, a library's) stays under those filters.

    The filters in force keep their order, and each that raises is preceded by one that shows instead those of
    sgdcli's categories it would raise, with its message, module and line: as the warnings module takes the first
    filter that matches, one before it (a test's mark that ignores one of sgdcli's, whatever it names: a message,
    a module or neither) still governs what it matches, and only that."""
    categories = [_warning_class(name) for name in SGDCLI_WARNINGS]
    with warnings.catch_warnings():
        kept = []
        for action, message, cls, module, lineno in warnings.filters:
            if action == "error":
                kept += [("default", message, narrower, module, lineno) for narrower in
                         (c if issubclass(c, cls) else cls if issubclass(cls, c) else None for c in categories)
                         if narrower is not None]
            kept.append((action, message, cls, module, lineno))
        warnings.resetwarnings()
        for action, message, cls, module, lineno in reversed(kept):  # each put first: the first ends first
            warnings.filterwarnings(action, _pattern(message), cls, _pattern(module), lineno)
        yield


def _pattern(match) -> str:
    """A filter's message or module as ``warnings.filterwarnings`` takes it: a regular expression's pattern; ""
    for None (any); a plain text (Python's own filters name modules so) matched whole."""
    import re

    return "" if match is None else re.escape(match) + r"\Z" if isinstance(match, str) else match.pattern


def resumed_after(path, options, checkpoint, stop_at: int):
    """The model of a run stopped by SIGTERM at its ``stop_at``-th safe point, checkpointing to ``checkpoint``,
    and then resumed from there."""
    import signal

    from sgdcli import RunControl, train
    from sgdcli.errors import Interrupted

    calls = []

    def stop():
        calls.append(1)
        return signal.SIGTERM if len(calls) == stop_at else None

    with pytest.raises(Interrupted):
        train(path, options, control=RunControl(checkpoint=str(checkpoint), stop=stop))
    return train(path, options, control=RunControl(checkpoint=str(checkpoint), resume=True))


def write_table(path, X, y=None, chunks=None, compression=None, x="X", yname="y"):
    """Write X (and y) with h5py: contiguous by default, or chunked/compressed."""
    with h5py.File(path, "w") as f:
        kw = {}
        if chunks is not None:
            kw["chunks"] = (chunks, X.shape[1]) if X.ndim == 2 else True
        if compression:
            kw["compression"] = compression
        f.create_dataset(x, data=X, **kw)
        if y is not None:
            ykw = {"chunks": (chunks,)} if chunks is not None else {}
            if compression:
                ykw["compression"] = compression
            f.create_dataset(yname, data=y, **ykw)
    return str(path)


@contextlib.contextmanager
def traced_fits():
    """While the block runs, the fits of the sample that training/run.py starts full batches at are kept
    (``fits``, None where there was none), with the peak of the memory each took, traced (``peaks``)."""
    import tracemalloc

    from sgdcli.training import run as run_mod

    fits, peaks, real = [], [], run_mod.fitted

    def fitted(*args):
        tracemalloc.start()
        try:
            fits.append(real(*args))
            return fits[-1]
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_mod, "fitted", fitted)
        yield fits, peaks


def sample_rows(path, full_batch: str | None = None, classes: int = 2) -> np.ndarray:
    """The rows of the file at ``path`` that a run's sample reads at the default --memory (training/sampling.py),
    in order: where the run's fits of its sample are of (none held out); ``full_batch``: a full-batch run's of
    that model (of ``classes`` classes), whose sample training/start.py sizes."""
    from sgdcli.data.table import Table
    from sgdcli.options import DEFAULT_MEMORY
    from sgdcli.training.sampling import SAMPLE_ROWS, sample_spans
    from sgdcli.training.start import fit_sample_rows

    with Table(path) as table:
        rows = SAMPLE_ROWS if full_batch is None else fit_sample_rows(full_batch, table, classes, DEFAULT_MEMORY)
        return np.concatenate([np.arange(a, b) for a, b in sample_spans(table, DEFAULT_MEMORY, rows)])


def collinear_classes(n=8_000, seed=3):
    """Six features that read one signal with a little noise of their own, four apart; the class is drawn from
    a score of the difference of two of the six (which standardizing leaves nearly collinear) and of two others."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 10))
    X[:, :6] = rng.standard_normal((n, 1)) + 0.05 * rng.standard_normal((n, 6))
    score = 20 * (X[:, 0] - X[:, 1]) + X[:, 2] + X[:, 6]
    y = (2 * score / score.std() + rng.logistic(size=n) > 0).astype(np.int64)
    return X.astype(np.float32), y


def make_problem(task="binary", n=2000, d=5, k=3, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    if task == "regression":
        w = rng.standard_normal(d)
        y = X @ w + 0.5 + noise * 0.1 * rng.standard_normal(n)
    elif task == "binary":
        w = rng.standard_normal(d)
        y = (X @ w + 0.3 + noise * rng.logistic(size=n) > 0).astype(np.int64)
    else:
        W = rng.standard_normal((k, d)) * 2
        y = (X @ W.T + noise * rng.gumbel(size=(n, k))).argmax(axis=1)
    return X, y


# Prepended to a `python -c` program: samples the process's peak anonymous memory
# (RssAnon, bytes) into peak[0] from a thread, every 5 ms.
RSS_SAMPLER = """
import sys, threading, time
peak = [0]
def _sample():
    while True:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    peak[0] = max(peak[0], int(line.split()[1]) * 1024)
        time.sleep(0.005)
threading.Thread(target=_sample, daemon=True).start()
"""


def without(module: str) -> str:
    """A `python -c` program that runs the CLI on sys.argv[1:] as if ``module`` were not installed."""
    return f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r} or name.startswith({module + "."!r}):
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
from sgdcli.cli import main
main(sys.argv[1:])
"""


class Ran(NamedTuple):
    """What a run of the CLI left: its exit code and what it wrote, as text."""

    returncode: int
    stdout: str
    stderr: str


def run(*args, check=False, env=None, input=None):
    """Run the CLI in this process, through click's CliRunner, as ``sgdcli ARGS``; returns a ``Ran``.

    The entry point's own error handling runs (``main_group.main``): exit codes
    and messages are the ones a shell sees.  ``env`` is set for the run only.
    Use ``run_process`` where the process itself is the subject.
    """
    from click.testing import CliRunner

    from sgdcli.cli import main_group

    with _as_lines():
        result = CliRunner().invoke(main_group, [str(a) for a in args], input=input,
                                    env={"SGDCLI_DEBUG": None, **(env or {})}, catch_exceptions=False)
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"exit {ran.returncode}: {ran.stderr}")
    return ran


def run_process(*args, check=False, env=None, timeout=300, input=None):
    """Run the real CLI in a subprocess: for signals, os._exit, settings read at start-up, import hygiene."""
    full_env = dict(os.environ)
    full_env.pop("SGDCLI_DEBUG", None)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "sgdcli", *map(str, args)],
        capture_output=True, text=True, env=full_env, timeout=timeout, input=input,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture
def binary_file(tmp_path):
    X, y = make_problem("binary", n=3000, d=6, seed=1)
    return write_table(tmp_path / "binary.h5", X, y, chunks=512)


@pytest.fixture
def regression_file(tmp_path):
    X, y = make_problem("regression", n=3000, d=6, seed=2)
    return write_table(tmp_path / "regression.h5", X, y)


def cli(*args):
    """``run`` as (exit code, stdout, stderr)."""
    return tuple(run(*args))


def reader_argv(command, data, model, out_dir, predictions="out.h5"):
    """The command line of ``train``, ``predict`` or ``evaluate`` reading ``data`` (``model`` for the last two),
    writing into ``out_dir``: for the tests that every command reading a file refuses the same thing."""
    return {"train": ["train", data, "-o", out_dir / "out.h5"],
            "predict": ["predict", model, data, "-o", out_dir / predictions],
            "evaluate": ["evaluate", model, data]}[command]


@pytest.fixture
def sample_parts(monkeypatch):
    """What a run's sample (training/sampling.py) read, by part (labels, weights, rows), the last read of each."""
    from sgdcli.training import sampling

    seen = {}
    for name in ("labels", "weights", "rows"):
        real = getattr(sampling.Sample, name)

        def spy(self, real=real, name=name):
            value = real(self)
            seen[name] = value
            return value
        monkeypatch.setattr(sampling.Sample, name, spy)
    return seen


@pytest.fixture
def no_fit_start(monkeypatch):
    """Full-batch logistic and softmax runs start where no fit of the sample is found (rows too wide, too little
    --memory): logistic's bias at the labels' log-odds, softmax at 0.  For the end check's tests (from the fit such runs end near the optimum, and
    it has nothing to say of them), and for runs on two files that train alike but whose samples hold other
    rows (the fit of each starts them apart)."""
    from sgdcli.training import run as run_mod

    monkeypatch.setattr(run_mod, "fitted", lambda *args, **kwargs: None)


@pytest.fixture
def small_full_batch_sample(monkeypatch):
    """A full batch's sample is SAMPLE_ROWS, any run's, not the larger one a fit of it asks for (training/start.py
    ``fit_sample_rows``): for tests of what a fit gains on some of the rows, where the larger one is every row."""
    from sgdcli.training import sampling, start

    monkeypatch.setattr(start, "FIT_SAMPLE_ROWS", sampling.SAMPLE_ROWS)


def robust_optimum(model, Z, y):
    """The weights (the bias last) of the optimum of huber's mean loss (ε 0.1: --epsilon's default; L-BFGS, its
    gradient continuous) or of the median's pinball loss (a linear program) on the rows ``Z`` (the bias's 1 last)
    and labels ``y``."""
    from scipy import sparse
    from scipy.optimize import linprog, minimize

    m, p = Z.shape
    if model == "quantile":  # min Σ ½(u⁺ + u⁻) / m subject to Zθ + u⁺ − u⁻ = y
        ones = sparse.identity(m, format="csr")
        found = linprog(np.concatenate([np.zeros(p), np.full(2 * m, 0.5 / m)]),
                        A_eq=sparse.hstack([sparse.csr_matrix(Z), ones, -ones], format="csr"), b_eq=y,
                        bounds=[(None, None)] * p + [(0, None)] * (2 * m), method="highs")
        return found.x[:p]

    def f(theta):
        u = y - Z @ theta
        loss = np.where(np.abs(u) <= 0.1, 0.5 * u * u, 0.1 * np.abs(u) - 0.005)
        return loss.mean(), -Z.T @ np.clip(u, -0.1, 0.1) / m

    return minimize(f, np.linalg.lstsq(Z, y, rcond=None)[0], jac=True, method="L-BFGS-B",
                    options={"maxiter": 100_000, "ftol": 1e-15, "gtol": 1e-12}).x


def robust_loss(model, theta, Z, y):
    """The mean loss of huber (ε 0.1) or the median's pinball loss of the weights ``theta`` on ``Z`` and ``y``."""
    u = y - Z @ theta
    if model == "quantile":
        return np.mean(0.5 * np.abs(u))
    return np.mean(np.where(np.abs(u) <= 0.1, 0.5 * u * u, 0.1 * np.abs(u) - 0.005))
