"""docs/cli.md is --help, every command and option has help text, and the README stays a README."""

import os

from sgdcli.cli import gendocs

from conftest import ROOT

CLI_MD = os.path.join(ROOT, "docs", "cli.md")


def test_the_command_reference_is_the_current_help():
    with open(CLI_MD, encoding="utf-8") as fh:
        assert fh.read() == gendocs.render(), "docs/cli.md is stale: run `make docs`"


def test_every_command_and_option_has_help_text():
    assert gendocs.missing_help() == []


def test_check_mode_reports_a_stale_reference_and_make_docs_mends_it(tmp_path, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text(gendocs.render().replace("Learning rate (before --lr-scaling)", "Learning rate"), encoding="utf-8")
    assert gendocs.main(["--check", str(stale)]) == 1
    assert capsys.readouterr().err.strip() == f"{stale}: the command reference is stale; run `make docs`"
    assert gendocs.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == gendocs.render()
    assert gendocs.main(["--check", str(stale)]) == 0


def test_an_option_is_not_taken_for_the_file_to_write(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert gendocs.main(["--help"]) == 2
    assert capsys.readouterr().err.strip() == "usage: python -m sgdcli.cli.gendocs [--check] docs/cli.md"
    assert list(tmp_path.iterdir()) == []


def test_missing_help_is_found(monkeypatch):
    from sgdcli.cli import main_group

    option = next(p for p in main_group.commands["train"].params if p.name == "lr")
    monkeypatch.setattr(option, "help", None)
    assert gendocs.missing_help() == ["sgdcli train --lr"]


def test_every_guide_the_readme_links_to_exists():
    import re

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert "docs/cli.md" in links
    assert [link for link in links if not os.path.exists(os.path.join(ROOT, link))] == []


def test_the_format_guide_names_the_checkpoint_format_written():
    """docs/model-format.md gives the checkpoint's format_version, which a script may compare with; it must be
    the version train writes, and the list of what each version changed must reach it."""
    import re

    from sgdcli.training import checkpoint

    with open(os.path.join(ROOT, "docs", "model-format.md"), encoding="utf-8") as fh:
        guide = fh.read()
    stated = re.findall(r'"sgdcli-checkpoint"`, `format_version` (\d+)\)', guide)
    assert stated == [str(checkpoint.FORMAT_VERSION)]
    assert f"format {checkpoint.FORMAT_VERSION} came with" in guide


def test_the_changelog_holds_only_its_bullets():
    """Each change of the Unreleased section is a bullet (its lines indented under it): a merge's note ("Bullets
    for CHANGELOG.md ... (branch ...)") once stood between two of them, naming files a user does not have."""
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as fh:
        text = fh.read()
    unreleased = text.split("## Unreleased", 1)[1].split("\n## ", 1)[0]
    changes = unreleased.split("\nAdded:", 1)[0]  # (what was added is one paragraph, after the changes)
    stray = [line for line in changes.splitlines()
             if line and not line.startswith(("- ", "  ", "Changes that alter what an unchanged command does:"))]
    assert stray == []
    assert "/tmp/" not in unreleased
