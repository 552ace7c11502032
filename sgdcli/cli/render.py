"""The text the commands print on stdout: listings, summaries, tables, model cards.

``--json`` output is the API's values through ``json_value``; everything else
is formatted here, so the API returns data and never text.  Every line that
can hold a name goes out through ``printable``: a name that holds an escape
sequence or a newline is written with escapes (``\\x1b``, ``\\n``), so that
it neither colours the terminal, nor vanishes (click strips escape sequences
off a terminal), nor splits its line.
"""

from __future__ import annotations

import json

import click

from sgdcli.errors import LISTED  # names or lines of one kind a listing shows in full; --json has them all
from sgdcli.reporting.records import dumps
from sgdcli.reporting.reporter import batch_words, counted, format_rate, printable
from sgdcli.sizes import format_size


def echo(text: str, err: bool = False) -> None:
    """One line a command prints: a result on stdout (``wrote NAME: ...``), or a note on stderr (``err``)."""
    click.echo(printable(text), err=err)


def _joined(lines) -> str:
    """Lines of a listing, each as ``printable`` writes it (names quoted by ``shown`` are so already)."""
    return "\n".join(printable(line) for line in lines)


def json_text(value, indent: int | None = None) -> str:
    """``value`` as JSON, non-finite floats as null (strict parsers such as jq reject NaN)."""
    return dumps(value, indent=indent)


def shown(value, listed: bool = False) -> str:
    """A name or other text from a file as text output prints it: as it is, or quoted and escaped as Python
    writes a string (repr) where it holds a newline, an escape or another character that does not print, or has
    space at an end; and ``listed`` (one of several joined by ", "), also where it holds a comma, a quote or a
    backslash, or is empty.  A list of names then reads back one way, and nothing in a file moves the cursor or
    colours the terminal.  Anything else prints as ``str`` has it."""
    if not isinstance(value, str):
        return str(value)
    plain = value.isprintable() and value == value.strip()
    if plain and not (listed and (not value or any(c in value for c in ",'\"\\"))):
        return value
    return repr(value)


def shown_names(values) -> str:
    """Names joined by ", ", each as ``shown`` lists it; past ``LISTED`` of them, how many more."""
    values = list(values)
    head = ", ".join(shown(v, listed=True) for v in values[:LISTED])
    return head + (f", ... and {len(values) - LISTED:,} more (--json lists them all)" if len(values) > LISTED else "")


def _label(value):
    """A class as predictions write it: a whole number stored as a float without its '.0' (1, not 1.0; 1e20 as
    100000000000000000000)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else value


NAME_LISTS = ("features", "class_names")  # the model card's lists of names (20,000 genes): the first LISTED


def _value(v) -> str:
    """A model card's value: a text as ``shown`` prints it; lists and objects as Python writes them (their texts
    quoted and escaped)."""
    return shown(v) if isinstance(v, str) else str(v)


def number(value) -> str:
    """A metric as ``evaluate`` and ``train`` print it."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def info_listing(d: dict) -> str:
    """``sgdcli info``: the file, then one line per dataset with its layout and how it will be read."""
    lines = [f"{d['file']} ({format_size(d['size'])})"]
    for ds in d["datasets"]:
        if "error" in ds:
            lines.append(f"  {ds['path']}: unreadable ({ds['error']})")
            continue
        chunks = "×".join(map(str, ds["chunks"])) if ds["chunks"] else "-"
        lines.append(
            f"  {ds['path']}: shape {'×'.join(map(str, ds['shape'])) or 'scalar'}, {ds['dtype']}, {ds['layout']}, "
            f"chunks {chunks}, compression {ds['compression'] or 'none'}, "
            f"{format_size(ds['logical_bytes'])} ({format_size(ds['stored_bytes'])} stored), read {ds['read_mode']}"
            + (f"; {ds['decoded']}" if ds.get("decoded") else "")
            + (f"; {ds['unwritten_rows']:,} rows never written" if ds.get("unwritten_rows") else "")
            + ("; dimension scale (no data)" if ds.get("dimension_scale") == "no data" else "")
            + ("; allocated early: rows never written cannot be told" if ds.get("allocated_early") else "")
            + (f"; a link to {ds['link']}" if ds.get("link") else "")
        )
    if not d["datasets"]:
        lines.append("  no datasets")
    table = d.get("table")
    if table and "error" in table:
        lines.append(f"X, y: not trainable as they are: {table['error']}")
    elif table:
        what = _columns(table)
        lines.append(f"{'X, y' if table.get('labels', True) else 'X (no y)'}: {counted(table['rows'], 'row')} × "
                     f"{counted(table['features'], 'feature')} ({what})")
        lines += [f"  {line}" for line in sparse_training_lines(table.get("sparse_training"))]
        lines += [f"  {line}" for line in left_out_lines(table.get("left_out"))]
        lines += [f"  {line}" for line in category_lines(table.get("categories"))]
        lines += [f"  {line}" for line in encoding_lines(table.get("encoding"))]
    like = d.get("looks_like")
    if like:
        use = "train" if any(f"--{o} " in like["options"] for o in ("y", "label-column")) else "predict"  # (no labels)
        lines.append(f"looks like {like['producer']}" + (f": {use} with {like['options']}" if like["options"] else ""))
        if "error" in like:
            lines.append(f"  but: {like['error']}")
        elif "kind" in like:
            what = _columns(like)
            lines.append(f"  {like['kind']}: {counted(like['rows'], 'row')} × {counted(like['features'], 'feature')} "
                         f"({what}), read {like['read_mode']}")
            lines += [f"  {line}" for line in sparse_training_lines(like.get("sparse_training"))]
            lines += [f"  {line}" for line in left_out_lines(like.get("left_out"))]
            lines += [f"  {line}" for line in category_lines(like.get("categories"))]
            if "hashing" in like:
                h = like["hashing"]
                lines.append(f"  features hashed from {h.get('source', '?')} into 2^{h['bits']} columns "
                             f"({h['function']}, seed {h['seed']}, signed)")
    if d["datasets"] and not table and not like:  # (a file of text, or of scalars: said, not left to the reader)
        lines.append("nothing to train on: no numeric matrix, table, group of columns or CSR matrix")
    return _joined(lines)


LEFT_OUT_WHY = {"text": "text, which can be the label (--label-column)",
                "text (pickled)": "text that pandas' fixed format pickles, which sgdcli does not read",
                "index level": "the levels of the frame's row index, a MultiIndex",
                "dimension scale": "dimension scales, the rows' index: netCDF/xarray coordinates",
                "coordinate": "coordinates of the variables, not data variables: xarray's non-index coords",
                "CF time": "CF times and durations, counts of a unit that xarray picks for each file",
                "time": "datetime and timedelta columns are not numeric features"}


def left_out_lines(left: dict | None) -> list[str]:
    """What ``info`` says of the columns of a table that are not features (``left_out``: name -> what it holds),
    one line per kind: text, the row index's levels, datetime and timedelta (each with its dtype)."""
    kinds: dict[str, list[str]] = {}
    for name, kind in (left or {}).items():
        if kind in LEFT_OUT_WHY:
            kinds.setdefault(kind, []).append(name)
        else:  # datetime64[ns], timedelta64, ...
            kinds.setdefault("time", []).append(f"{name} ({kind})")
    return [f"left out ({LEFT_OUT_WHY[kind]}): {shown_names(names)}" for kind, names in kinds.items()]


SHOWN_CATEGORIES = 12  # of a feature's, in info's line (the model card keeps them all)


def category_lines(categories: dict | None) -> list[str]:
    """What ``info`` says of the features that hold the codes of categories (name -> {category: code}): one line
    each, the first categories in the order of their codes."""
    lines = []
    for name, named in (categories or {}).items():
        order = sorted(named.items(), key=lambda item: item[1])
        lines.append(f"{name!r} holds the codes of categories, read through their names: "
                     + (", ".join(f"{category} = {code}" for category, code in order[:SHOWN_CATEGORIES]) or "none")
                     + (f", ... ({len(order):,} in all)" if len(order) > SHOWN_CATEGORIES else ""))
    return lines


def _columns(table: dict) -> str:
    """What ``info`` says of a table's columns: their first names, as ``show`` lists a model's, and a sparse
    matrix's nonzeros."""
    names = shown_names(table["feature_names"])
    if "nonzeros" not in table:
        return names
    return (f"{names}; " if table["feature_names"] else "") + (
        f"{table['nonzeros']:,} nonzeros, density {table['density']:.3g}")


def sparse_training_lines(how: dict | None) -> list[str]:
    """How the defaults train a sparse table (training/autooptimizer.py ``sparse_defaults``), in words."""
    if how is None:
        return []
    if not how["centred"]:
        return ["by default trained as stored, not standardized: too wide to centre (docs/sparse.md)"]
    return ["by default standardized, its rows centred as dense rows are"
            + (", and trained by the dense kernels, a piece of rows at a time made dense (a tenth or more of its "
               "columns nonzero)" if how["dense_kernels"] else " (docs/sparse.md)")]


def encoding_lines(text: str | None) -> list[str]:
    """How convert made the features from a CSV file's columns (its ``encoding``, JSON), in words."""
    if not text:
        return []
    enc = json.loads(text)
    columns = enc["columns"]
    lines = []
    if enc.get("label") is not None:
        lines.append(f"label: column {columns[enc['label']]!r}" + (", class names" if enc.get("label_names") else ""))
    if enc.get("hash_bits") is not None:
        text = [f["name"] for f in enc["features"] if f["kind"] == "category"]
        lines.append(f"features: {len(enc['features'])} columns hashed by name into 2^{enc['hash_bits']} columns"
                     + (f"; {shown_names(text)} as text (name=value)" if text else ""))
    told = []
    for f in enc["features"] if enc.get("hash_bits") is None else []:
        if f["kind"] == "category":
            told.append(f"{shown(f['name'])}: one-hot, {len(f['categories'])} values and other")
        elif f.get("fill") is not None:
            told.append(f"{shown(f['name'])}: a missing value is {f['fill']:.6g}"
                        + (f", with {shown(f['name'] + '_missing')}" if f.get("indicator") else ""))
    lines += told[:LISTED]
    if len(told) > LISTED:
        lines.append(f"... and {len(told) - LISTED:,} more encoded columns (--json lists them all)")
    if enc.get("weight") is not None:  # convert writes them to the dataset w
        lines.append(f"row weights: column {columns[enc['weight']]!r}, written to w (--sample-weight w)")
    used = {f["column"] for f in enc["features"]} | {enc.get("label"), enc.get("weight")}
    left = [name for c, name in enumerate(columns) if c not in used]
    if left:
        lines.append(f"left out: {shown_names(left)}")
    if enc.get("decimal", ".") != "." or enc.get("thousands"):
        lines.append(f"numbers with decimal mark {enc['decimal']!r}"
                     + (f" and thousands separator {enc['thousands']!r}" if enc.get("thousands") else ""))
    return lines


def _left_out(t: dict) -> str:
    """The tail of ``train``'s first line: the training and validation rows --bad-rows skip left out."""
    parts = [counted(t[key], what) for key, what in (("bad_rows", "training row"), ("val_bad_rows", "validation row"))
             if t.get(key)]
    return f"; left out {' and '.join(parts)} with NaN or inf (--bad-rows skip)" if parts else ""


def trained(model, output) -> str:
    """``sgdcli train``'s summary: the model written, then the losses (under --l2 or --l1, the training objective
    too, which early stopping without validation rows judges) and validation metrics of the epoch it is (with
    --early-stopping, the one kept, which the quality gates check, named where it is not the last)."""
    t = model.training
    shards = t.get("workers") or (t.get("threads", 1) if model.options.get("parallel") == "average" else 1)
    share = -(-t["rows"] // shards) if shards > 1 else None  # (each's share of an epoch: training/replicas.py)
    lines = [f"model {output}: {model.model}, {counted(model.n_features, 'feature')}, "
             f"{counted(t['epochs_run'], 'epoch')} × {counted(t['iterations_per_epoch'], 'iteration')} "
             f"({batch_words(t['batch_size'], share, 'worker' if t.get('workers') else 'thread')}, lr {t['lr']:.4g})"
             # a result, as convert's count of skipped rows is: -q hides the log line that says so
             + _left_out(t)]
    if not model.history:  # --epochs 0 with --init: the initial model, rewritten
        return _joined([lines[0], f"no epochs: the model of --init {model.options.get('init')}, unchanged"])
    kept = t.get("best_epoch") or len(model.history)
    if kept != len(model.history):
        lines.append(f"kept_epoch {kept}")
    lines += [f"{key} {number(value)}" for key, value in model.history[kept - 1].items()
              if key.endswith("loss") or key == "objective" or key.startswith("val_")]  # (objective: --l2's, --l1's)
    return _joined(lines)


def converted(result) -> str:
    """``sgdcli convert``'s summary of what it wrote."""
    text = f"{counted(result.rows, 'row')} × {counted(result.features, 'feature')} from {result.format}"
    if result.sparse:
        text += ", sparse (CSR)"
    if result.hashing is not None:
        text += f", features hashed into 2^{result.hashing['bits']} columns"
    if result.engine != "python":
        text += f" (read by {result.engine})"
    if result.skipped:
        text += f"; skipped {counted(result.skipped, 'bad row')}"
    if result.weights:
        text += f"; row weights in {result.weights} (train with --sample-weight {result.weights})"
    return text


def sweep_table(runs, kept: bool = False) -> str:
    """The sweep as an aligned text table, one row per run; ``kept`` (--early-stopping) adds the column of the epoch
    each run keeps, whose losses the row shows; --l2 or --l1 adds that epoch's training objective after its loss."""
    penalized = any(r.objective is not None for r in runs)
    head = ("batch", "lr", "iters/epoch", "iterations", "epochs", *(("kept_epoch",) if kept else ()), "train_loss",
            *(("objective",) if penalized else ()), "val_loss", "seconds", "rows/s", "diverged")
    body = []
    for r in runs:
        body.append((
            r.batch_label, f"{r.lr:.4g}", str(r.iterations_per_epoch), str(r.iterations), str(r.epochs),
            *(("-" if r.kept_epoch is None else str(r.kept_epoch),) if kept else ()), f"{r.train_loss:.6g}",
            *(("-" if r.objective is None else f"{r.objective:.6g}",) if penalized else ()),
            "-" if r.val_loss is None else f"{r.val_loss:.6g}", f"{r.seconds:.2f}",
            "-" if r.rows_per_s != r.rows_per_s else format_rate(r.rows_per_s), "yes" if r.diverged else "no",
        ))
    widths = [max(len(row[k]) for row in (head, *body)) for k in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (head, *body))


def render_card(card: dict) -> str:
    lines = [f"model        {card['model']}", f"features     {card['features']}"]
    if card["classes"] is not None:
        lines.append(f"classes      {shown_names(_label(c) for c in card['classes'])}")
    lines.append(f"standardized {'yes' if card['standardized'] else 'no'}")
    share = card["nonzero_weights"] / max(card["features"], 1)
    lines.append(f"nonzero      {card['nonzero_weights']:,} of {card['features']:,} features' weights ({share:.1%})")
    if card.get("hashing"):
        h = card["hashing"]
        lines.append(f"hashed       2^{h['bits']} columns ({h['function']}, seed {h['seed']}, signed), from "
                     f"{h.get('source', '?')}")
    lines.append(f"created      {shown(card['created'])}")
    lines.append("")
    lines.append("hyperparameters")
    lines += _block(card["hyperparameters"], 18)
    lines.append("")
    lines.append("training")
    lines += _block({k: v for k, v in card["training"].items() if k != "encoding"}, 20)
    columns = encoding_lines(card["training"].get("encoding"))
    if columns:
        lines.append("")
        lines.append("features from CSV columns")
        lines += [f"  {line}" for line in columns]
    lines.append("")
    lines.append("history")
    if card["history"]:
        keys = [k for k in card["history"][0] if k != "rows"]
        lines.append("  " + "  ".join(f"{shown(k):>12}" for k in keys))
        for rec in card["history"]:
            lines.append("  " + "  ".join(f"{_cell(rec.get(k)):>12}" for k in keys))
    lineage = card["training"].get("lineage")
    if lineage:
        lines.append("")
        lines.append("lineage (oldest first)")
        for i, run in enumerate(lineage, start=1):
            start = run.get("started_from")
            begun = (f"from {_value(start['path'])} (model {_value(start['fingerprint'])})" if start
                     else "from scratch")
            data = (run.get("data") or {}).get("path", "?")
            lines.append(f"  {i}. {begun}, {counted(run.get('epochs'), 'epoch')} on {_value(data)}")
    lines.append("")
    lines.append("training data")
    lines += _block(card["data"], 8)
    lines.append("")
    lines.append("versions     " + ", ".join(f"{shown(k)} {_value(v)}" for k, v in card["versions"].items()))
    return _joined(lines)


def _block(entries: dict, width: int, indent: str = "  ") -> list:
    """A section of the card, a key and its value a line; a value that is itself an object (``lr_auto``, the
    shuffle) as a block of its own under its key, indented, rather than as one line of Python's braces."""
    lines = []
    for k, v in entries.items():
        if isinstance(v, dict) and v:
            lines.append(f"{indent}{shown(k)}")
            lines += _block(v, max(width - 2, len(max(map(shown, v), key=len))), indent + "  ")
        else:
            lines.append(f"{indent}{shown(k):<{width}} "
                         f"{shown_names(v) if k in NAME_LISTS and isinstance(v, list) else _value(v)}".rstrip())
    return lines


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.5g}"
    return "-" if v is None else _value(v)
