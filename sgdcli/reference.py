"""The README's command reference, generated from ``--help``.

``python -m sgdcli.reference README.md`` (``make docs``) rewrites the part of
the README between the two marker lines with the help of ``sgdcli`` and of
every command, at a fixed width.  ``--check`` changes nothing and exits 1 when
that part is stale; the test suite makes the same comparison, and also fails
when a command or an option has no help text.
"""

from __future__ import annotations

import sys

import click

START = "<!-- command reference: generated from --help by `make docs`; do not edit by hand -->"
END = "<!-- end of command reference -->"
WIDTH = 100


def _contexts():
    """(title, command, context) for the group and each of its commands, in order."""
    from sgdcli.cli import main_group

    # the group's own settings (help option names, ...) as when it runs, at a fixed width
    settings = {**main_group.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    top = click.Context(main_group, info_name="sgdcli", **settings)
    yield "sgdcli", main_group, top
    for name in main_group.list_commands(top):
        command = main_group.get_command(top, name)
        yield f"sgdcli {name}", command, click.Context(command, info_name=name, parent=top)


def render() -> str:
    """The reference, markers included."""
    lines = [START, ""]
    for title, command, ctx in _contexts():
        lines += [f"### `{title}`", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    lines.append(END)
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


def updated(text: str) -> str:
    """``text`` (the README) with the part between the markers replaced by ``render()``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README lacks the marker lines {START!r} ... {END!r}")
    return text[:start] + render() + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1:
        print("usage: python -m sgdcli.reference [--check] README.md", file=sys.stderr)
        return 2
    with open(paths[0], encoding="utf-8") as fh:
        text = fh.read()
    new = updated(text)
    if check:
        if new != text:
            print(f"{paths[0]}: the command reference is stale; run `make docs`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        with open(paths[0], "w", encoding="utf-8") as fh:
            fh.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
