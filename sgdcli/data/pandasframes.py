"""The two layouts of a pandas frame written by ``df.to_hdf``, as sources of columns.

- fixed format: the frame's blocks (one 2-D dataset per dtype), joined in the frame's column order
  (``axis0``); text blocks are pickled objects, never read;
- table format: one compound table (PyTables), its ``index`` field left out, every other field a block of
  columns whose names are pickled into attributes (pandasmeta); text columns share one field, of which each
  column can be read alone as labels.
"""

from __future__ import annotations

import h5py
import numpy as np

from sgdcli.data.hdf5 import NUMERIC_KINDS
from sgdcli.data.pandasmeta import frame_columns, is_categorical, pickled_names
from sgdcli.data.sources import Fields, Found, Matrix, Source, text_of
from sgdcli.data.textlabels import is_text


def fixed_frame(g: h5py.Group) -> Found:
    """A frame of pandas' fixed format: its numeric blocks' columns in the frame's order; text blocks (pickled)
    are not read."""
    order = [text_of(v) for v in g["axis0"][()]]
    where: dict[str, tuple[int, int]] = {}
    blocks, text = [], {}
    for b in range(int(g.attrs.get("nblocks", 0))):
        values = g[f"block{b}_values"]
        items = [text_of(v) for v in g[f"block{b}_items"][()]]
        if values.dtype.kind not in NUMERIC_KINDS:
            text.update((name, None) for name in items)  # pickled objects: not read
            continue
        blocks.append(values)
        for j, name in enumerate(items):
            where[name] = (len(blocks) - 1, j)
    sources: list[Source] = []
    for name in order:
        if name not in where:
            continue
        b, j = where[name]
        sources.append(Matrix(blocks[b], np.array([j]), [name]))
    return Found(_merge(sources), None, "pandas frame (fixed format)", plain=False, text=text)


def table_frame(g: h5py.Group) -> Found:
    """A frame of pandas' table format: the value fields of its table in the frame's column order; its text
    columns, each readable as labels; its Categoricals."""
    table = g["table"]
    fields, names, text, categorical = [], [], {}, {}
    for name in table.dtype.names:
        if name == "index":
            continue
        kind = table.attrs.get(f"{name}_kind")
        base, shape = table.dtype.fields[name][0].base, table.dtype.fields[name][0].shape
        labels = pickled_names(kind) if kind is not None else None
        width = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if base.kind not in NUMERIC_KINDS:  # a block of text columns: each a column of the field, read alone
            readable = is_text(base) and len(labels or [name]) == width
            text.update((label, Fields(table, [name], [label], np.array([j])) if readable else None)
                        for j, label in enumerate(labels or [name]))
            continue
        if width == 1 and is_categorical(table, name):
            categorical[(labels or [name])[0]] = name
        fields.append(name)
        names += labels if labels and len(labels) == width else ([name] if width == 1 else
                                                                 [f"{name}[{i}]" for i in range(width)])
    frame = frame_columns(g.attrs.get("non_index_axes"))
    cols = np.arange(len(names))
    if frame:  # the frame's column order, where the file records it
        rank = {name: i for i, name in enumerate(frame)}
        cols = np.array(sorted(range(len(names)), key=lambda j: rank.get(names[j], len(frame) + j)))
    return Found([Fields(table, fields, [names[j] for j in cols], cols)], None, "pandas frame (table format)",
                 plain=False, text=text, categorical=categorical)


def _merge(sources: list[Source]) -> list[Source]:
    """Neighbouring one-column sources of the same matrix joined into one (read once per block)."""
    out: list[Source] = []
    for s in sources:
        last = out[-1] if out else None
        if isinstance(s, Matrix) and isinstance(last, Matrix) and last.ds == s.ds and last.transposed == s.transposed:
            out[-1] = Matrix(s.ds, np.concatenate([last.cols, s.cols]), last.names + s.names, s.transposed)
        else:
            out.append(s)
    return out
