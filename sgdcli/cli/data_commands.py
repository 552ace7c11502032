"""The commands that make and inspect data files: generate, info, convert."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import click
from click.core import ParameterSource

from sgdcli.cli import argtext, render
from sgdcli.cli.params import Count, Number, command, json_option, pass_quiet_option
from sgdcli.cli.unused import CONVERT_RULES, warn_unused
from sgdcli.errors import InputError
from sgdcli.reporting.plain import StageLines
from sgdcli.reporting.reporter import counted
from sgdcli.options import (BAD_ROWS, COMPRESSIONS, CONVERT, CONVERT_DTYPES, CONVERT_FORMATS, CSV_ENGINES, GENERATE,
                            MISSING, TASKS)


def compression_option(default: str):
    return click.option("--compression", type=click.Choice(COMPRESSIONS), default=default, show_default=True,
                        help="Chunk compression (gzip at level 1).")


chunk_rows_option = click.option("--chunk-rows", type=Count(), default=None,
                                 help="Rows per HDF5 chunk [default: about 1 MiB chunks].")


def _generate_settings(output, quiet, **params) -> None:
    """What generate refuses of its settings and its output before it writes anything (sgdcli.check_generate),
    for --print-config."""
    import sgdcli

    _check_classes(params["task"], params["classes"])
    sgdcli.check_generate(output, **params)


def _check_classes(task: str, classes: int) -> None:
    """InputError for a --classes typed for a task with other than that many classes (the API, whose callers
    pass ``classes`` whatever the task, takes it; a config file's, set for all runs, is left too)."""
    typed = click.get_current_context().get_parameter_source("classes") is ParameterSource.COMMANDLINE
    if typed and task != "multiclass" and not (task == "binary" and classes == 2):
        raise InputError(f"--classes: applies only with --task multiclass; --task {task} "
                         f"{'has two classes' if task == 'binary' else 'has no classes'}")


@command("generate", example='sgdcli generate data.h5 --task binary --rows 100000 --features 20',
         check=_generate_settings)
@click.argument("output", type=argtext.Path(dir_okay=False))
@click.option("--task", type=click.Choice(TASKS), default=GENERATE.task, show_default=True,
              help="What y is: real values, two classes (0/1), or K classes (0..K-1).")
@click.option("--rows", type=Count(), default=GENERATE.rows, show_default=True, help="Number of rows N.")
@click.option("--features", type=Count(), default=GENERATE.features, show_default=True,
              help="Number of features D.")
@click.option("--classes", type=Count(min=2), default=GENERATE.classes, show_default=True,
              help="Classes K (--task multiclass only).")
@click.option("--noise", type=Number(min=0), default=GENERATE.noise, show_default=True, help="Label noise scale.")
@click.option("--seed", type=int, default=GENERATE.seed, show_default=True, help="Seed of the model and the data.")
@click.option("--data-seed", type=int, default=None,
              help="Seed of the rows alone: other rows from the same model, e.g. a test set [default: none: the "
                   "rows continue --seed's draws after the model's, which no --data-seed repeats; the file's "
                   "data_seed attribute is then -1].")
@chunk_rows_option
@click.option("--contiguous", is_flag=True, help="Store X and y contiguously (memory-mappable).")
@compression_option(GENERATE.compression)
@pass_quiet_option
def generate_cmd(output, quiet, **kwargs):
    """Write synthetic X (float32, N×D) and y from a known linear model.

    Written block by block, so files larger than memory are made with bounded
    memory. The generating parameters are stored as attributes, the true
    weights in /generator.
    """
    import sgdcli

    _check_classes(kwargs["task"], kwargs["classes"])
    p = sgdcli.generate(output, progress=None if quiet else StageLines(sys.stderr, announce=False), **kwargs)
    render.echo(f"wrote {output}: {counted(p['rows'], 'row')} × {counted(p['features'], 'feature')}, task {p['task']}")


@command("info", example='sgdcli info data.h5')
@click.argument("file", type=argtext.Path(dir_okay=False, read=True))
@json_option("the listing")
def info_cmd(file, json):
    """List the datasets of an HDF5 file and how sgdcli will read each one."""
    import sgdcli

    d = sgdcli.describe(file)
    click.echo(render.json_text(d, indent=2) if json else render.info_listing(d))


def _convert_settings(input, output, format, quiet, **params) -> None:  # noqa: A002
    """What convert refuses before it reads INPUT, for --print-config: its options, for the format that INPUT's
    name or --format gives, and whether -o can be written (judged without creating a file); what INPUT holds,
    and whether it is there, is left to the run."""
    import sgdcli

    warn_unused(SimpleNamespace(**params), CONVERT_RULES)
    sgdcli.check_convert(input, output, fmt=format, **params)


@command("convert", example='sgdcli convert data.csv -o data.h5 --label-column label', check=_convert_settings)
@click.argument("input", type=argtext.Path(dir_okay=False, read=True))
@click.option("-o", "--output", required=True, type=argtext.Path(dir_okay=False), help="HDF5 file to write (X and y).")
@click.option("--format", type=click.Choice(CONVERT_FORMATS), default=None,
              help="Input format (vw: Vowpal Wabbit text) [default: from the extension: .csv, .tsv/.tab, "
                   ".svm/.libsvm/.svmlight, .vw, .npy; text may be compressed: .gz, .bz2, .xz, .zst (with the "
                   "[zst] extra)].")
@click.option("--label-column", default=None, metavar="NAME|INDEX",
              help="CSV/TSV: the label column, by header name or 0-based index (negative counts from the end) "
                   "[default: the last column]. A .npy without --y needs it: the label's INDEX.")
@click.option("--delimiter", default=None,
              help="CSV field delimiter, one character or 'tab', not the --decimal mark [default: detected].")
@click.option("--header/--no-header", default=None,
              help="Whether the first CSV line names the columns [default: yes if it holds a field that is "
                   "neither a number nor a missing value (--na-values), or is pandas' header of an unnamed index "
                   "and numbered columns, ',0,1,2'].")
@click.option("--features", type=Count(), default=None,
              help="LIBSVM: the number of features D (indices 1..D) [default: the largest index, from a first pass].")
@click.option("--zero-based", is_flag=True,
              help="LIBSVM: feature indices start at 0 (as scikit-learn's dump_svmlight_file writes them by "
                   "default), not 1.")
@click.option("--y", "y", type=argtext.Path(dir_okay=False, read=True), default=None,
              help=".npy input: the labels, a 1-D (or N × 1) .npy file.")
@chunk_rows_option
@compression_option(CONVERT.compression)
@click.option("--dtype", type=click.Choice(CONVERT_DTYPES), default=CONVERT.dtype, show_default=True,
              help="Type of X in the output (y is float64, or text for class names).")
@click.option("--bad-rows", type=click.Choice(BAD_ROWS), default=CONVERT.bad_rows, show_default=True,
              help="error: stop at the first row with a field that is not a number; skip: leave such rows out and count them.")
@click.option("--sparse/--dense", default=None,
              help="Write X as a CSR matrix (only the nonzeros; docs/sparse.md) or as a dense 2-D dataset "
                   "[default: sparse for LIBSVM, Vowpal Wabbit text and --hash-bits; dense otherwise].")
@click.option("--hash-bits", type=int, default=None, metavar="B",
              help="Hash named features into 2^B columns, as scikit-learn's FeatureHasher: LIBSVM ids, CSV/TSV "
                   f"columns (a text field is the feature column=text) [default: {CONVERT.vw_hash_bits} for Vowpal "
                   "Wabbit text, which is always hashed; no hashing otherwise].")
@click.option("--columns", default=None, metavar="LIST",
              help="CSV/TSV: only these columns are features: names or 0-based indices, comma-separated; a "
                   "comma inside a name is written \\, ('a\\,b,c') [default: every column but the label].")
@click.option("--ignore", default=None, metavar="LIST",
              help="CSV/TSV: leave these columns out (names or indices, as --columns lists them).")
@click.option("--categorical", default=None, metavar="LIST",
              help="CSV/TSV: one-hot encode these columns (listed as --columns lists them): a feature per value among the --max-categories most "
                   "frequent, and <column>=other for the rest (and values never seen); a first pass finds them.")
@click.option("--max-categories", type=Count(), default=CONVERT.max_categories, show_default=True,
              metavar="K", help="Values of a --categorical column with a feature of their own.")
@click.option("--na-values", default=None, metavar="LIST",
              help="CSV/TSV: the fields that mean a missing value, comma-separated [default: pandas' list: empty, "
                   "NA, N/A, NaN, nan, null, NULL, None, <NA>, #N/A, ...].")
@click.option("--missing", type=click.Choice(MISSING), default=CONVERT.missing, show_default=True,
              help="A missing number: error; skip (leave the row out); zero; or mean (the column's, from a first "
                   "pass). Stored with the file, so predictions fill new rows the same way. With --hash-bits a "
                   "missing value is no feature, and only the default is taken.")
@click.option("--missing-indicator", is_flag=True,
              help="With --missing zero or mean: add <column>_missing (1 where the value was missing) after each "
                   "numeric column.")
@click.option("--decimal", default=CONVERT.decimal, show_default=True,
              help="CSV/TSV: the decimal mark of numbers (',' for 0,5).")
@click.option("--thousands", default=None, help="CSV/TSV: the thousands separator to ignore in numbers (e.g. '.' "
                                                "or ' ') [default: none].")
@click.option("--weight-column", default=None, metavar="NAME|INDEX",
              help="CSV/TSV: this column holds per-row weights (>= 0), written as the dataset w for train "
                   "--sample-weight w, not as a feature. (Vowpal Wabbit importance weights go to w by themselves.)")
@click.option("--engine", type=click.Choice(CSV_ENGINES), default=CONVERT.engine, show_default=True,
              help="CSV/TSV reader: sgdcli's compiled tokenizer (python; auto takes it: the faster in make bench) "
                   "or pyarrow's (needs the fast-csv extra), which is refused with an option it cannot "
                   "apply: --hash-bits, --bad-rows skip, --columns, --ignore, --weight-column, --categorical, "
                   "--missing-indicator, --decimal, --thousands, a number in --na-values. At a field it does not "
                   "read as a number (a missing value, a class name) it gives way to the tokenizer.")
@pass_quiet_option
def convert_cmd(input, output, quiet, **kwargs):
    """Stream INPUT (CSV/TSV, LIBSVM/svmlight, Vowpal Wabbit text or .npy) into a chunked HDF5 file that train reads.

    X is written dense, or sparse as a CSR matrix (LIBSVM and Vowpal Wabbit
    text by default). Memory stays bounded by one block of rows, whatever the
    input's size. A
    field that is not a number stops the conversion with its line and column
    (or, with --bad-rows skip, the row is left out and counted).
    """
    import sgdcli

    kwargs["fmt"] = kwargs.pop("format")
    warn_unused(SimpleNamespace(**kwargs), CONVERT_RULES)
    result = sgdcli.convert(input, output, progress=None if quiet else StageLines(sys.stderr, announce=False),
                            **kwargs)
    if result.skipped:
        render.echo(f"sgdcli: left out {counted(result.skipped, 'row')} that could not be read (a field that is not a number, "
                    "a value beyond X's --dtype, a missing label; or a missing value, with --missing skip)", err=True)
    render.echo(f"wrote {output}: {render.converted(result)}")
