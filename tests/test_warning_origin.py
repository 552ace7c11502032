"""The warnings of the Python API come from the caller's line, the first outside sgdcli: what Python shows with
them, and what filterwarnings(module=...) matches, is the code that called sgdcli, not a line inside it (they
came from runlog.py:0, checkpoint.py:0 and train.py:67).  The command line prints them without a place."""

import warnings

import pytest

import sgdcli
from sgdcli import RunControl, TrainOptions
from sgdcli.kernels.runtime import ThreadsCapped
from sgdcli.training.checkpoint import StaleCheckpoint
from sgdcli.training.runlog import FitWarning

# Three updates of 3,000 rows, which warn: no fit of the sample says how far they went (hinge under --l1)
FEW = dict(model="hinge", l1=1e-4, epochs=1, batch_size=1000)


def caught(call):
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        line = call.__code__.co_firstlineno
        call()
    return [(w.category, w.filename, w.lineno - line) for w in found], found


def test_fit_threads_and_stale_checkpoint_warnings_name_the_callers_line(tmp_path, binary_file):
    (tmp_path / "junk.ckpt").write_text("not a checkpoint")
    said, _ = caught(lambda: sgdcli.train(
        binary_file, TrainOptions(**FEW, threads=512), output=tmp_path / "m.h5",
        control=RunControl(checkpoint=str(tmp_path / "junk.ckpt"), resume=True, restart_stale=True)))
    assert sorted(said, key=lambda w: w[0].__name__) == [(FitWarning, __file__, 0), (StaleCheckpoint, __file__, 0),
                                                          (ThreadsCapped, __file__, 0)]
    said, found = caught(lambda: sgdcli.sweep(binary_file, TrainOptions(**FEW), [1000], ["auto"]))
    assert said == [(FitWarning, __file__, 0)] and str(found[0].message).startswith("batch 1000, lr auto: only 3")


def test_a_filter_on_the_callers_module_governs_them(binary_file):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.filterwarnings("error", category=FitWarning, module=__name__)
        with pytest.raises(FitWarning, match="^only 3 updates in all"):
            sgdcli.train(binary_file, TrainOptions(**FEW))


def test_a_python_c_program_gets_them_too(binary_file):
    """Its __main__ has no source a loader can give (warn_explicit with module_globals raised ImportError)."""
    import subprocess
    import sys

    program = ("import sgdcli\n"
               f"sgdcli.train({str(binary_file)!r}, sgdcli.TrainOptions(**{FEW!r}))\n"
               "print('trained')\n")
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (0, "trained\n"), proc.stderr
    assert proc.stderr.startswith("<string>:2: FitWarning: only 3 updates in all"), proc.stderr


def test_the_suite_shows_every_warning_class_of_sgdcli_as_a_command_line_shows_it():
    """conftest.run lets each category in SGDCLI_WARNINGS be a line on stderr, as in a shell, where the suite's
    "error" filter would make it an internal error: one left out of the list fails the commands that give it."""
    import ast
    import pathlib

    from conftest import ROOT, SGDCLI_WARNINGS

    defined = set()
    for path in pathlib.Path(ROOT, "sgdcli").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(base).endswith("Warning") for base in node.bases):
                defined.add(f"{module}.{node.name}")
    assert defined == set(SGDCLI_WARNINGS)


def shown_as_a_line(filters, message="only 1 update in all", module="sgdcli.training.fit", category=FitWarning):
    """What a command run in the test process does with a warning under the suite's "error" and ``filters``
    (``warnings.filterwarnings`` arguments, each put first): "raised", "shown" (a line on stderr) or "ignored"."""
    from conftest import _as_lines

    with warnings.catch_warnings(record=True) as shown:
        warnings.resetwarnings()
        warnings.simplefilter("error")
        for f in filters:
            warnings.filterwarnings(*f)
        with _as_lines():
            try:
                warnings.warn_explicit(message, category, "fit.py", 1, module=module, registry={})
            except category:
                return "raised"
    return "shown" if shown else "ignored"


def test_a_filter_that_names_a_message_or_a_module_governs_what_it_matches_under_the_suites_commands():
    """conftest.run shows sgdcli's warnings as lines where the suite's filter raises them, and a test's filter
    that ignores one still does: only a filter that named neither a message nor a module was looked at, so one
    that did was overridden (its warnings shown), whatever it matched."""
    assert shown_as_a_line([]) == "shown"
    assert shown_as_a_line([("ignore", "", FitWarning)]) == "ignored"
    by_message = [("ignore", "beside the point", FitWarning)]
    assert shown_as_a_line(by_message, "beside the point: only 1 update") == "ignored"
    assert shown_as_a_line(by_message, "only 1 update in all") == "shown"
    by_module = [("ignore", "", FitWarning, r"sgdcli\.training\.fit")]
    assert shown_as_a_line(by_module) == "ignored"
    assert shown_as_a_line(by_module, module="sgdcli.training.setup") == "shown"
    assert shown_as_a_line([("error", "only 1", FitWarning, "sgdcli")], module="sgdcli.training.fit") == "shown"
    assert shown_as_a_line([], category=UserWarning) == "raised"  # not sgdcli's: the suite's filter stands
