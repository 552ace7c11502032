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


def test_the_format_guide_names_the_checkpoint_positions_keys():
    """The checkpoint's ``position`` attribute, as docs/model-format.md lists its keys: it said "window", a key
    the JSON does not have (the window's index is ``block``)."""
    import dataclasses
    import re

    from sgdcli.engine.epoch import Position

    with open(os.path.join(ROOT, "docs", "model-format.md"), encoding="utf-8") as fh:
        (row,) = [line for line in fh if line.startswith("| attribute `position` |")]
    named = re.findall(r"`(\w+)`", row.split("|")[2])
    assert named and set(named) <= {field.name for field in dataclasses.fields(Position)}


def test_the_sweep_example_in_the_training_guide_is_what_the_sweep_prints(monkeypatch):
    """docs/training.md's sweep of sample_data/binary.h5, run from the project's root: its rows but for the time
    columns (seconds, rows/s), and the warning it quotes, are what the command prints (a row and the warning's
    figure had gone stale)."""
    import re
    import shlex

    from conftest import cli

    with open(os.path.join(ROOT, "docs", "training.md"), encoding="utf-8") as fh:
        guide = fh.read()
    command, table = re.search(r"```console\n\$ (sgdcli sweep sample_data/binary\.h5 [^\n]*)\n(.*?)```", guide,
                               re.S).groups()
    monkeypatch.chdir(ROOT)
    code, out, err = cli(*shlex.split(command)[1:])
    assert code == 0, err

    def untimed(text):  # but for the losses of the run at lr 100 of batch 32, whose overshooting steps amplify
        # the last bits of its sums, which other CPU models' vector instructions round otherwise (its losses
        # differed in the second digit on an AMD EPYC): the guide says so
        return [line.split()[:5 if line.startswith("32 ") and line.split()[1] == "100" else 7] + line.split()[9:]
                for line in text.strip().splitlines()]

    assert untimed(out) == untimed(table)
    climbed = next(line.split() for line in out.splitlines() if line.split()[:2] == ["32", "100"])
    assert float(climbed[5]) > 0.6907 and climbed[-1] == "no"  # above its start (the warning below), not diverged
    flat = " ".join(guide.split())
    quoted = re.search(r"`sgdcli: warning: (batch 32, lr 100: epoch 2's training loss, averaged over its batches "
                       r"as they were trained, )[\d.]+(, is above the model's it started from .*?): …`", flat)
    assert re.search(re.escape(quoted[1]) + r"[\d.]+" + re.escape(quoted[2]), err)  # (its figure: the table's loss)
    quoted = re.search(r"`sgdcli: warning: (batch 32, lr 0\.01: the model's mean loss on the run's sample .*?)`", flat)
    assert f"sgdcli: warning: {quoted[1]}\n" in err
    assert err.count("sgdcli: warning:") == 2  # the guide's "Here there are two"
