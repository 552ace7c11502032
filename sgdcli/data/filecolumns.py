"""The feature columns a file holds, listed without reading a row: what predict, evaluate and --val match a
model's features against by name."""

from __future__ import annotations

import os

from sgdcli.data import featurenames, hdf5, loomfiles, producers
from sgdcli.data.sparse import CsrReader, is_csr
from sgdcli.errors import InputError


def columns_of(path, x: str, transpose: bool = False) -> tuple[list[str] | None, dict[str, str]]:
    """The names of the feature columns that ``x`` of ``path`` holds, all of them, and of its other columns
    with what each holds (text, a datetime, an index level), without reading any (data/producers.py
    ``column_names``); (None, {}) for a CSR matrix, whose columns are known by position only."""
    path = os.fspath(path)
    f = hdf5.open_file(path)
    try:
        with hdf5.reading(path):
            if is_csr(producers.lookup(f, x, "dataset or group")):  # by position, unless named (AnnData's var)
                try:
                    width = CsrReader(f[x]).width
                except InputError:
                    return None, {}
                return featurenames.column_names(f[x], width), {}
            return producers.column_names(f, x, transpose)
    finally:
        f.close()


def other_names_of(path, x: str) -> list[str] | None:
    """Names a model may know the feature columns of ``x`` of ``path`` by besides ``columns_of``'s, in the same
    order (a 10x matrix's or a Loom file's gene symbols: data/featurenames.py ``other_names``), or None."""
    path = os.fspath(path)
    f = hdf5.open_file(path)
    try:
        with hdf5.reading(path):
            obj = f.get(x)
            if loomfiles.by_gene(obj):  # (read transposed: a column per gene)
                return featurenames.other_names(obj, obj.shape[0])
            if not is_csr(obj):
                return None
            try:
                return featurenames.other_names(obj, CsrReader(obj).width)
            except InputError:
                return None
    finally:
        f.close()


def raw_holding(path, x: str, names: list[str]) -> str | None:
    """Where ``x`` of an AnnData file (its ``X``) lacks some of ``names`` (a model's genes), ``raw/X`` where its
    columns (``raw/var``) hold them all, as scanpy keeps every gene there beside the variable genes it selects
    into ``X``; else None."""
    if x.strip("/") != "X":
        return None
    try:
        present, _ = columns_of(path, "raw/X")
    except InputError:
        return None
    return "raw/X" if present and set(names) <= set(present) else None

