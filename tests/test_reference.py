"""The README's command reference is --help, and every command and option has help text."""

import os
import subprocess
import sys

from sgdcli import reference

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_readme_reference_is_the_current_help():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    assert reference.updated(text) == text, "README.md's command reference is stale: run `make docs`"


def test_every_command_and_option_has_help_text():
    assert reference.missing_help() == []


def test_check_mode_reports_a_stale_reference(tmp_path):
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    stale = tmp_path / "README.md"
    stale.write_text(text.replace("Learning rate (before --lr-scaling).", "Learning rate."), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sgdcli.reference", "--check", str(stale)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"{stale}: the command reference is stale; run `make docs`"
    assert subprocess.run([sys.executable, "-m", "sgdcli.reference", str(stale)]).returncode == 0
    assert stale.read_text(encoding="utf-8") == text


def test_missing_help_is_found(monkeypatch):
    from sgdcli.cli import main_group

    option = next(p for p in main_group.commands["train"].params if p.name == "lr")
    monkeypatch.setattr(option, "help", None)
    assert reference.missing_help() == ["sgdcli train --lr"]
