"""docs/cli.md, the command reference, generated from ``--help``.

``python -m sgdcli.cli.gendocs docs/cli.md`` (``make docs``) writes the help
of ``sgdcli`` and of every command, at a fixed width.  ``--check`` changes
nothing and exits 1 when the file is stale; the test suite makes the same
comparison, and also fails when a command or an option has no help text.
"""

from __future__ import annotations

import sys

import click

WIDTH = 100
HEADER = """# Command reference

The help of every command, as `--help` prints it. This file is generated from
the code by `make docs` (`python -m sgdcli.cli.gendocs docs/cli.md`); do not edit it
by hand: a test fails when it differs from `--help`.
"""


def _contexts():
    """(title, command, context) for the group and each of its commands, in order."""
    from sgdcli.cli.app import main_group

    # the group's own settings (help option names, ...) as when it runs, at a fixed width
    settings = {**main_group.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    top = click.Context(main_group, info_name="sgdcli", **settings)
    yield "sgdcli", main_group, top
    for name in main_group.list_commands(top):
        command = main_group.get_command(top, name)
        yield f"sgdcli {name}", command, click.Context(command, info_name=name, parent=top)


def render() -> str:
    """The whole of docs/cli.md."""
    lines = [HEADER]
    for title, command, ctx in _contexts():
        lines += [f"## `{title}`", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(lines)


def missing_help() -> list[str]:
    """Commands and options that have no help text, as 'sgdcli train --x'."""
    missing = []
    for title, command, ctx in _contexts():
        if not (command.help or "").strip():
            missing.append(title)
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{title} {param.opts[-1]}")
    return missing


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1 or paths[0].startswith("-"):  # --help is not a file to write the reference to
        print("usage: python -m sgdcli.cli.gendocs [--check] docs/cli.md", file=sys.stderr)
        return 2
    new = render()
    try:
        with open(paths[0], encoding="utf-8") as fh:
            old = fh.read()
    except FileNotFoundError:
        old = None
    if check:
        if new != old:
            print(f"{paths[0]}: the command reference is stale; run `make docs`", file=sys.stderr)
            return 1
        return 0
    if new != old:
        with open(paths[0], "w", encoding="utf-8") as fh:
            fh.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
