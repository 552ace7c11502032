"""The commands that use a model: predict, evaluate, show."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import click

from sgdcli import errors
from sgdcli.cli import argtext, gates, render
from sgdcli.cli.params import (columns_options, command, delimiter_option, evaluate_weight_option, gate_options,
                               json_option, memory_option, pass_quiet_option, predict_columns_options, x_option,
                               y_option)
from sgdcli.cli.unused import LABEL_RULES, warn_unused
from sgdcli.options import PREDICTION_FORMATS as FORMATS, STDOUT
from sgdcli.reporting.reporter import counted
from sgdcli.reporting.plain import PassProgress


def _warn(text: str) -> None:
    render.echo(f"sgdcli: {text}", err=True)


def _progress(quiet: bool, what: str) -> PassProgress | None:
    """The progress lines of a pass over a file, on stderr: none with -q."""
    return None if quiet else PassProgress(sys.stderr, what)


def _predict_settings(model, data, output, format, **params) -> None:  # noqa: A002
    """What predict checks before it opens a file, for --print-config (its API makes the same checks): its
    options (--memory...), that -o can be written (without creating a file there), then the output's format
    (whether --proba applies is known only from the model)."""
    import sgdcli

    sgdcli.predict.check(**params)
    sgdcli.check_predict_output(model, data, output, format)


@command("predict", example='sgdcli predict model.h5 new.h5 -o pred.h5 --proba', check=_predict_settings)
@click.argument("model", type=argtext.Path(dir_okay=False, read=True))
@click.argument("data", type=argtext.Path(dir_okay=False, allow_dash=True, read=True))
@click.option("-o", "--output", required=True, type=argtext.Path(dir_okay=False, allow_dash=True),
              help="Where to write the predictions: .h5/.hdf5 (HDF5), .csv or .tsv (text with a header row; "
                   ".csv.gz, .tsv.gz: gzip-compressed), or - for CSV on standard output.")
@click.option("--format", type=click.Choice(FORMATS), default=None,
              help="The output's format, whatever its extension [default: from the extension].")
@x_option
@predict_columns_options
@click.option("--proba", is_flag=True, help="Also write class probabilities (rows × classes): 'proba' in HDF5, "
                                            "proba_<class> columns in text.")
@delimiter_option
@memory_option
@pass_quiet_option
def predict_cmd(model, data, output, format, x, label_column, weight_column, features, transpose,  # noqa: A002
                allow_unwritten, proba, delimiter, memory, quiet):
    """Write predictions of MODEL for every row of DATA, in the user's own labels.

    DATA is HDF5, or CSV/TSV text (compressed or not; - reads standard
    input) when MODEL was trained on a converted CSV file: its columns are
    read by name as convert read the training file's.
    """
    try:  # (from the imports on, which take most of a run's first half second: a stop there wrote nothing either)
        import sgdcli

        sgdcli.configure_runtime()
        n = sgdcli.predict(model, data, output, x=x, proba=proba, memory=memory, format=format,
                           label_column=label_column, features=features, transpose=transpose,
                           allow_unwritten=allow_unwritten, report=_warn, weight_column=weight_column,
                           progress=_progress(quiet, f"predicting {data}"), delimiter=delimiter)
    except errors.Terminated as stop:
        if output == STDOUT:  # its rows go out as they are made: no file, but a reader has those before the stop
            stop.left = ("the predictions written to standard output are incomplete" if getattr(
                sys.stdout, "written", True) else "nothing was written to standard output")
        raise
    if output != STDOUT:
        render.echo(f"wrote {output}: {counted(n, 'prediction')}")


def _evaluate_settings(fail_under, fail_over, **params) -> list[gates.Gate]:
    """evaluate's options (--memory...) and gates, checked as the run checks them before it opens any file (and
    --print-config with it); which metrics the model has is known only once it is read."""
    if params:  # (--print-config: the run's own call checks them)
        import sgdcli

        sgdcli.evaluate.check(**params)
        warn_unused(SimpleNamespace(label_column=params.get("label_column")), LABEL_RULES)
    return gates.parse_all(fail_under, fail_over)


@command("evaluate", example='sgdcli evaluate model.h5 test.h5 --json', check=_evaluate_settings)
@click.argument("model", type=argtext.Path(dir_okay=False, read=True))
@click.argument("data", type=argtext.Path(dir_okay=False, allow_dash=True, read=True))
@x_option
@y_option
@columns_options
@click.option("--sample-weight", metavar="DATASET", default=None,
              help="Weigh each row's metrics by this 1-D dataset of DATA (>= 0, finite), as scikit-learn's "
                   "sample_weight does; rows stays a row count.")
@evaluate_weight_option
@delimiter_option
@json_option("the metrics")
@memory_option
@pass_quiet_option
@gate_options
def evaluate_cmd(model, data, x, y, label_column, features, transpose, allow_unwritten, sample_weight, weight_column,
                 delimiter, json, memory, quiet, fail_under, fail_over):
    """Print the metrics of MODEL on DATA.

    Regression: mse, rmse, mae, r2 (huber also huber; quantile also pinball,
    below; poisson also deviance). Binary: accuracy, log_loss, auc,
    precision, recall, f1. Multiclass: accuracy, log_loss. All include rows.
    With --fail-under/--fail-over, a metric beyond its bound makes the command
    exit 3 after printing the metrics. DATA may be CSV/TSV text (or - for
    standard input) when MODEL was trained on a converted CSV file.
    """
    import sgdcli

    checks = _evaluate_settings(fail_under, fail_over)
    warn_unused(SimpleNamespace(label_column=label_column), LABEL_RULES)
    loaded = sgdcli.load_model(model)
    gates.check_model(checks, loaded.model, f"{model} (a {loaded.model} model)")
    sgdcli.configure_runtime()
    result = sgdcli.evaluate(loaded, data, x=x, y=y, memory=memory, label_column=label_column, features=features,
                             transpose=transpose, allow_unwritten=allow_unwritten, report=_warn,
                             progress=_progress(quiet, f"evaluating on {data}"), sample_weight=sample_weight,
                             delimiter=delimiter, weight_column=weight_column)
    # one write, as every command's results: a reader that takes a line and goes (| head -1) has them whole
    gates.print_then_enforce(render.json_text(result) if json else
                             "\n".join(f"{key} {render.number(value)}" for key, value in result.items()),
                             checks, result, data)


@command("show", example='sgdcli show model.h5')
@click.argument("model", type=argtext.Path(dir_okay=False, read=True))
@json_option("the model card")
def show_cmd(model, json):
    """Print the model card: type, features, classes, hyperparameters, history, data, versions."""
    import sgdcli

    card = sgdcli.model_card(model)
    click.echo(render.json_text(card, indent=2) if json else render.render_card(card))
