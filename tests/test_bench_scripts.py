"""The benchmark programs in bench/ still fit the package: ``make bench`` is not part of ``make test`` (it takes an
hour and the bench extra), so a name moved or renamed in sgdcli would otherwise break it unseen.  Each script's
imports from sgdcli and from its neighbours in bench/ must resolve, and every keyword it passes to an sgdcli
function or class must be one that takes it.  Static: nothing of bench/ runs, and its peers (scikit-learn, Dask,
PyTorch) need not be installed."""

import ast
import importlib
import inspect
import os

import pytest

from conftest import ROOT

BENCH = os.path.join(ROOT, "bench")
SCRIPTS = sorted(f for f in os.listdir(BENCH) if f.endswith(".py"))


def _tree(name: str) -> ast.Module:
    with open(os.path.join(BENCH, name), encoding="utf-8") as f:
        return ast.parse(f.read(), name)


def _top_level_names(tree: ast.Module) -> set:
    """What a module defines at its top level: functions, classes, assignments and imports."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _sgdcli_names(script: str, tree: ast.Module) -> dict:
    """The names a script imports from sgdcli, each with the object it is; a name sgdcli lacks fails the test."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sgdcli":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    found[alias.asname or alias.name] = getattr(module, alias.name)
                else:  # a submodule (`from sgdcli.data import table`), or a name that moved
                    try:
                        found[alias.asname or alias.name] = importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        pytest.fail(f"bench/{script}:{node.lineno} imports {alias.name} from {node.module}, "
                                    "which has no such name")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sgdcli":
                    importlib.import_module(alias.name)
    return found


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bench_script_imports_what_sgdcli_and_its_neighbours_have(script):
    tree = _tree(script)
    _sgdcli_names(script, tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and f"{node.module}.py" in SCRIPTS:
            missing = {a.name for a in node.names} - _top_level_names(_tree(f"{node.module}.py"))
            assert not missing, f"bench/{script} imports {sorted(missing)} from bench/{node.module}.py"


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bench_script_passes_sgdcli_only_keywords_it_takes(script):
    tree = _tree(script)
    names = _sgdcli_names(script, tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and callable(names.get(node.func.id))):
            continue
        try:
            params = inspect.signature(names[node.func.id]).parameters
        except (TypeError, ValueError):  # a builtin's or a compiled kernel's signature cannot be told
            continue
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        passed = {k.arg for k in node.keywords if k.arg is not None}
        assert passed <= set(params), (f"bench/{script}:{node.lineno}: {node.func.id}() takes no "
                                       f"{sorted(passed - set(params))}")
