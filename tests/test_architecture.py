"""The layers and the rules between them (pyproject.toml's import-linter contracts), and that the rules bite."""

import os
import shutil
import subprocess
import sys

import grimp
import pytest

from conftest import ROOT

# Lints the package found first on sys.path (argv[1]), not the editable install, with the project's contracts.
LINT = """
import sys
sys.meta_path = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "") + repr(f)]
sys.path.insert(0, sys.argv[1])
from importlinter.cli import lint_imports
sys.exit(lint_imports(config_filename=sys.argv[2], no_cache=True))
"""


def lint(package_parent) -> subprocess.CompletedProcess:
    # import-linter puts its working directory first on sys.path: run it where the package to lint is
    return subprocess.run([sys.executable, "-c", LINT, str(package_parent), os.path.join(ROOT, "pyproject.toml")],
                          capture_output=True, text=True, timeout=300, cwd=package_parent,
                          env=dict(os.environ, COLUMNS="300"))  # one line per contract


def test_the_import_contracts_hold():
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(os.path.join(ROOT, "sgdcli"), tmp_path / "sgdcli", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _add_line(path, line):
    text = path.read_text()
    marker = "from __future__ import annotations\n"
    path.write_text(text.replace(marker, marker + line + "\n", 1) if marker in text else line + "\n" + text)


@pytest.mark.parametrize("module,line,contract", [
    ("data/table.py", "from sgdcli.training import train", "Layers: each imports only the layers below it"),
    ("data/selection.py", "from sgdcli.kernels import losses", "Data knows nothing of models"),
    ("kernels/losses.py", "import h5py", "The kernels import nothing of sgdcli's other layers"),
    ("training/run.py", "import rich", "Training and the executors import neither click nor rich"),
    ("cli/model_commands.py", "from sgdcli.model import file", "The CLI reaches the work only through the public API"),
    ("cli/params.py", "import numba", "What --help and completion load imports neither numba nor h5py"),
    ("model/metrics.py", "from numba import njit", "Only the kernels import numba or llvmlite"),
    ("parallel/cluster.py", "from sgdcli.parallel import threads", "The executors that average models"),
    ("data/chunks.py", "from sgdcli.data import table", "No import cycles"),
])
def test_a_forbidden_import_breaks_its_contract(copy, module, line, contract):
    _add_line(copy / "sgdcli" / module, line)
    proc = lint(copy)
    assert proc.returncode == 1, proc.stdout
    broken = [text for text in proc.stdout.splitlines() if " BROKEN" in text]
    assert len(broken) >= 1 and any(text.startswith(contract) for text in broken), proc.stdout


def test_a_rule_whose_layer_is_gone_fails(copy):
    shutil.rmtree(copy / "sgdcli" / "engine")
    proc = lint(copy)
    assert proc.returncode != 0, proc.stdout
    assert "sgdcli.engine" in proc.stdout + proc.stderr


ALLOWED_IN_KERNELS = {"numpy", "numba", "llvmlite"}


def test_kernels_import_only_numpy_numba_llvmlite_and_the_standard_library():
    graph = grimp.build_graph("sgdcli", include_external_packages=True, cache_dir=None)
    outside = set()
    for module in graph.find_descendants("sgdcli.kernels") | {"sgdcli.kernels"}:
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")[0]
            if not imported.startswith("sgdcli.kernels") and top not in ALLOWED_IN_KERNELS | sys.stdlib_module_names:
                outside.add(f"{module} -> {imported}")
    assert outside == set()


def test_the_top_level_holds_only_entry_points_and_vocabulary():
    modules = sorted(name for name in os.listdir(os.path.join(ROOT, "sgdcli")) if name.endswith(".py"))
    assert modules == ["__init__.py", "__main__.py", "daskoptions.py", "errors.py", "fieldtypes.py", "namelists.py",
                       "options.py", "samefile.py", "sizes.py", "testhooks.py", "versions.py"]


def test_no_module_is_over_about_400_lines():
    long = {}
    for folder, _, files in os.walk(os.path.join(ROOT, "sgdcli")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as fh:
                    lines = sum(1 for _ in fh)
                if lines > 420:
                    long[os.path.relpath(os.path.join(folder, name), ROOT)] = lines
    assert long == {}


def _module_constants(name: str) -> list[str]:
    """The modules of sgdcli that assign ``name`` at their top level (``NAME = ...``)."""
    import ast

    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, "sgdcli")):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                with open(path, encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
                if any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets)
                       for node in tree.body):
                    found.append(os.path.relpath(path, ROOT))
    return found


def test_how_many_names_a_listing_shows_is_written_once():
    # The CLI's listings and the data layer's suggestions both cut a list of names at LISTED; errors.py is the
    # module both layers may import, so it holds the one number.
    from sgdcli import errors
    from sgdcli.cli import render
    from sgdcli.data import knownfiles

    assert _module_constants("LISTED") == [os.path.join("sgdcli", "errors.py")]
    assert render.LISTED is errors.LISTED and knownfiles.LISTED is errors.LISTED
