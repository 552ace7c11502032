"""convert's settings, checked before it reads its input: the format (from the name, or --format), the options
that apply to it and go together, and the output.  ``check_convert`` makes the checks that read nothing of the
input and create nothing (--print-config); convert makes them all (``checked``).
"""

from __future__ import annotations

import os

from sgdcli.data import hashing, textfiles
from sgdcli.data.atomic import check_writable
from sgdcli.data.csvcolumns import ColumnOptions
from sgdcli.data.csvsniff import delimiter_option
from sgdcli.data.csvtext import pyarrow_available
from sgdcli.data.writers import ROW_BYTES
from sgdcli.errors import InputError, missing_extra, not_a_file
from sgdcli.options import BAD_ROWS, COMPRESSIONS, CONVERT, CSV_ENGINES
from sgdcli.sizes import check_chunk_rows
from sgdcli.options import CONVERT_DTYPES as DTYPES
from sgdcli.options import CONVERT_FORMATS as FORMATS

SPARSE_FORMATS = ("libsvm", "vw")  # written as CSR unless sparse=False


def check_convert(input, output, *, sparse: bool | None = None, block_rows: int | None = None, **settings) -> None:
    """InputError for what ``convert(input, output, **settings)`` would refuse of its settings and its output
    before it reads the input, where that needs neither the input's content (is it there, compressed, HDF5)
    nor a file created (the output's directory is judged by its permissions)."""
    checked(os.fspath(input), os.fspath(output), content=False, **settings)


def checked(input: str, output: str, *, content: bool = True, fmt: str | None = None, label_column: str | None = None,
            delimiter: str | None = None, header: bool | None = None, features: int | None = None,
            y: str | None = None, chunk_rows: int | None = None, compression: str = CONVERT.compression,
            dtype: str = CONVERT.dtype, bad_rows: str = CONVERT.bad_rows, engine: str = CONVERT.engine,
            hash_bits: int | None = None, columns: str | None = None, ignore: str | None = None,
            categorical: str | None = None, max_categories: int | None = None, na_values: str | None = None,
            missing: str | None = None, missing_indicator: bool = False, decimal: str | None = None,
            thousands: str | None = None, weight_column: str | None = None,
            zero_based: bool = False) -> tuple[str, ColumnOptions]:
    """(the input's format, its column options) of convert's settings, or InputError for the first it refuses;
    ``content``: look into the input too, and try the output's directory by creating a file in it."""
    if content:
        if input == "-" and not os.path.exists(input):
            raise InputError("-: convert reads its input more than once, so not from standard input: save it to a "
                             "file first")
        if not os.path.isfile(input):
            raise not_a_file(input, input, "; convert reads its input more than once, so save it to a file first")
        _refuse_hdf5(input)
    fmt = detect_format(input, fmt)
    if content:
        _refuse_compressed(input, fmt)
    if fmt == "npy" and textfiles.compression_of(input):
        raise InputError(f"{input}: a compressed .npy file cannot be memory-mapped; decompress it first")
    if dtype not in DTYPES:
        raise InputError(f"--dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    if compression not in COMPRESSIONS:
        raise InputError(f"--compression: {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    if bad_rows not in BAD_ROWS:
        raise InputError(f"--bad-rows: {bad_rows!r} is not one of {', '.join(BAD_ROWS)}")
    if chunk_rows is not None and chunk_rows < 1:
        raise InputError(f"--chunk-rows must be >= 1, got {chunk_rows}")
    if chunk_rows is not None:  # (the least a row takes: y's class names and a dense X's rows, once known, more)
        check_chunk_rows(chunk_rows, ROW_BYTES)
    if features is not None and fmt != "libsvm":
        raise InputError("--features applies to LIBSVM input, the columns its indices address" + (
            "; --columns picks the columns of CSV/TSV" if fmt in ("csv", "tsv") else ""))
    if features is not None and features < 1:
        raise InputError(f"--features must be >= 1, got {features}")
    if zero_based and (fmt != "libsvm" or hash_bits is not None):
        raise InputError("--zero-based applies to LIBSVM input whose indices are columns" + (
            "; --hash-bits hashes them as text" if fmt == "libsvm" else ""))
    if y is not None and fmt != "npy":
        raise InputError("--y FILE.npy applies to .npy input")
    if label_column is not None and fmt in SPARSE_FORMATS:
        raise InputError("--label-column applies to CSV/TSV and .npy input; LIBSVM and Vowpal Wabbit text hold "
                         "the label first on each line")
    for given, option in ((delimiter, "--delimiter"), (header, "--header/--no-header")):
        if given is not None and fmt not in ("csv", "tsv"):
            raise InputError(f"{option} applies to CSV/TSV input")
    if hash_bits is not None:
        hashing.check_bits(hash_bits)
    if hash_bits is not None and fmt == "npy":
        raise InputError("--hash-bits applies to CSV/TSV, LIBSVM and Vowpal Wabbit text, whose features have names")
    if hash_bits is not None and features is not None:
        raise InputError("--hash-bits and --features exclude each other: hashing makes 2^bits columns")
    given = {"columns": columns, "ignore": ignore, "categorical": categorical, "max_categories": max_categories,
             "na_values": na_values, "missing": missing, "missing_indicator": missing_indicator or None,
             "decimal": decimal, "thousands": thousands, "weight_column": weight_column}
    columns = ColumnOptions(**{k: v for k, v in given.items() if v is not None})
    if columns != ColumnOptions() and fmt not in ("csv", "tsv"):
        raise InputError("--columns, --ignore, --categorical, --na-values, --missing, --decimal, --thousands and "
                         "--weight-column apply to CSV/TSV input")
    columns.check()
    if hash_bits is not None and missing not in (None, CONVERT.missing):  # accepted, it did nothing
        raise InputError(f"--missing {missing} does not apply with --hash-bits: a missing value is hashed as no "
                         "feature, so no row is left out and no value filled")
    if delimiter is not None and fmt in ("csv", "tsv"):
        delimiter_option(delimiter, columns.decimal)  # not the decimal mark: refused before any work
    if engine not in CSV_ENGINES:
        raise InputError(f"--engine: {engine!r} is not one of {', '.join(CSV_ENGINES)}")
    if engine == "pyarrow":
        _check_pyarrow(input, fmt, hash_bits, bad_rows, columns)
    if content and y is not None and not os.path.isfile(y):
        raise not_a_file(y, f"--y {y}", "; --y reads a .npy file in place")
    textfiles.check_output_name(output)
    check_writable(output, inputs=(input, y), probe=content)
    return fmt, columns


def detect_format(path: str, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    found = textfiles.format_of(path)
    if found is None:
        packed = textfiles.compressed_unnamed(path)
        if packed is not None:  # a compressed file named for neither
            raise InputError(f"{path}: looks {packed[0]}-compressed, and its name says neither that nor the format; "
                             f"give it a name ending in the format's suffix and {packed[1]} (such as "
                             f"data.csv{packed[1]})")
        raise InputError(f"{path}: cannot tell the format from the name; give --format ({', '.join(FORMATS)})")
    return found


def _refuse_compressed(path: str, fmt: str) -> None:
    """Compressed bytes in a file whose name has no compression suffix are not read as they are: as text they
    were "not UTF-8" (the wrong cure, iconv), as .npy an unpickling error."""
    if fmt != "npy" and textfiles.compression_of(path) is None:
        try:
            with open(path, "rb") as fh:
                textfiles.refuse_zip(path, fh.read(len(textfiles.ZIP_SIGNATURE)), f"data.{fmt}")
        except OSError:
            pass  # (the reader names what keeps it from the file)
    packed = textfiles.compressed_unnamed(path)
    if packed is None:
        return
    name, suffix, tool = packed
    if fmt == "npy":
        raise InputError(f"{path}: looks {name}-compressed; a .npy file is memory-mapped, so decompress it first "
                         f"({tool} {path} > data.npy)")
    raise InputError(f"{path}: looks {name}-compressed; give it a name ending in {suffix}, or decompress it with "
                     f"{tool}")


def _refuse_hdf5(path: str) -> None:
    """An HDF5 file (by its signature, whatever its name: textfiles.is_hdf5) is no input of convert's: as text it
    was "not UTF-8", or a format the name could not tell."""
    if textfiles.is_hdf5(path):
        packed = textfiles.compression_of(path)
        what = f"a compressed HDF5 file ({packed}); decompress it, and" if packed else "an HDF5 file;"
        raise InputError(f"{path}: is {what} train, predict and evaluate read it as it is (convert reads CSV, TSV, "
                         "LIBSVM and Vowpal Wabbit text, and .npy)")


# What pyarrow's reader cannot apply (_check_pyarrow refuses them), as messages name them
PYARROW_REFUSES = ("--hash-bits", "--bad-rows skip", "--columns", "--ignore", "--weight-column", "--categorical",
                   "--missing-indicator", "--decimal", "--thousands")


def _check_pyarrow(input: str, fmt: str, hash_bits: int | None, bad_rows: str, columns: ColumnOptions) -> None:
    """An explicit --engine pyarrow that an option keeps from reading the file is refused, naming the option
    (it was dropped without a word for sgdcli's tokenizer, and with --missing-indicator failed); pyarrow missing
    is a runtime failure.  What it meets in the text (a field that is not a number, labels that are names)
    still gives way to the tokenizer, which reads it as it would have (data/csvtext.py)."""
    if fmt not in ("csv", "tsv"):
        raise InputError(f"--engine pyarrow: reads CSV/TSV text; {input} is read as {fmt}")
    given = [("--hash-bits", hash_bits is not None), ("--bad-rows skip", bad_rows != "error"),
             ("--columns", columns.columns is not None), ("--ignore", columns.ignore is not None),
             ("--weight-column", columns.weight_column is not None),
             ("--categorical", columns.categorical is not None), ("--missing-indicator", columns.missing_indicator),
             (f"--decimal {columns.decimal}", columns.decimal != CONVERT.decimal),
             ("--thousands", columns.thousands is not None),
             ("--na-values with a number", not columns.plain)]  # (the others plain: a number that is missing)
    option = next((name for name, on in given if on), None)
    if option is not None:
        raise InputError(f"--engine pyarrow: pyarrow's reader cannot apply {option}; leave out one of them "
                         "(--engine auto reads with sgdcli's tokenizer)")
    if not pyarrow_available():
        raise missing_extra("--engine pyarrow", "pyarrow", "fast-csv")
