"""``sgdcli plot``: learning curves from metrics files."""

from __future__ import annotations

import click

from sgdcli.cli import argtext, render
from sgdcli.cli.params import command
from sgdcli.reporting.reporter import counted


def _plot_settings(metrics, output) -> None:
    """What plot refuses of its settings alone (after it sees that -o can be written): an output name of no
    image format; for --print-config."""
    from sgdcli.reporting.plot import output_format

    output_format(output)


@command("plot", example='sgdcli plot run-a.jsonl run-b.jsonl -o curves.png', check=_plot_settings)
@click.argument("metrics", nargs=-1, required=True, type=argtext.Path(dir_okay=False, read=True))
@click.option("-o", "--output", required=True, type=argtext.Path(dir_okay=False),
              help="Image to write: .png, .pdf or .svg.")
def plot_cmd(metrics, output):
    """Draw learning curves from train --metrics files: loss against epoch, iterations and time.

    Training loss is solid, validation loss (when the run had validation)
    dashed; several files are overlaid, one color each, labelled by file name
    (with its directories where files share a name).
    Needs matplotlib, the plot extra: .venv/bin/pip install -e '.[plot]' in the
    sgdcli checkout.
    """
    from sgdcli.reporting.plot import plot_files

    runs = plot_files(list(metrics), output, lambda text: render.echo(f"sgdcli: {text}", err=True))
    render.echo(f"wrote {output}: {counted(runs, 'run')}")
