"""A training table (feature matrix X, labels y) of one HDF5 file, read out of core in row blocks."""

from __future__ import annotations

import functools
import os

import h5py
import numpy as np

from sgdcli.data import (budget, columnindex, csrblocks, csvcolumns, featurenames, hashing, hdf5, held, mudatafiles,
                         nonfinite, pandasindex, producers, rowcount, rowweights, wholechunks)
from sgdcli.data.columns import ColumnReader
from sgdcli.data.identity import FileIdentity, content_digest, fingerprint
from sgdcli.data.numeric import wider_than
from sgdcli.data.pandasframes import CodedFields
from sgdcli.data.shuffle import PageShuffle
from sgdcli.data.sources import ComposedReader, Fields, Source
from sgdcli.data.sparse import ENTRY_BYTES, OFFSET_BYTES, CsrReader, SparseX, is_csr
from sgdcli.data.textlabels import Codes, TextLabels
from sgdcli.data import categories as categories_mod, unwritten as unwritten_mod
from sgdcli.data.columnindex import numbered
from sgdcli.data.where import where_in
from sgdcli.errors import InputError
from sgdcli.options import DEFAULT_MEMORY, WEIGHTS_TWICE
from sgdcli.sizes import BlocksShort, MemoryShort

FEATURE_DTYPE = np.float32
LABEL_DTYPE = np.float64
BUFFERS = 2  # the block being trained on and the one being read ahead
# Bytes per row of each block (or window) in flight besides its values: a window of the page shuffle keeps its rows'
# numbers, positions and offsets, labels before and after encoding, and the selected rows (int64 and float64 arrays),
# and computing its order takes a few more per row while it lasts (1-row pages).
ROW_BOOKKEEPING = 80


class Table:
    """X (rows × features) and, optionally, y (rows) of one HDF5 file.

    ``x`` names what holds the features and ``y`` the labels, in any layout data/producers.py knows;
    ``label_column`` takes the labels from a column of the features instead, ``features`` keeps only the columns it
    lists (names or indices, comma-separated), ``transpose`` reads a 2-D ``x`` stored columns × rows,
    ``allow_unwritten`` reads rows never written as fill values, ``classes`` (a model's class names) fixes the codes
    that labels which are names are read as (``class_names``: those names), ``sample_weight`` names a dataset of
    per-row weights (read as ``W``; ``weight_column``, a column of ``x``, left out of the features), and without
    ``labels`` (predict) no labels are opened: ``y`` is not, and a ``label_column`` is only left out of the features
    (``Y`` is None); ``memory`` (--memory) bounds the pass that finds the names of labels that are names; ``shown``:
    the name messages give the file (a worker opens the driver's file by its absolute path, named as the user named
    it); ``hold``: the readers held whole ("y", "w": data/held.py), as the table that the driver opened chose them
    (None: chosen here, by ``memory``); ``beside``: a table whose labels held stay in ``memory`` while this one is
    read (the training table's, beside a --val file's), which its blocks do without (``reserved``).
    """

    def __init__(self, path, x: str = "X", y: str | None = "y", label_column: str | None = None,
                 features: str | None = None, transpose: bool = False, allow_unwritten: bool = False,
                 classes: list[str] | None = None, sample_weight: str | None = None, labels: bool = True,
                 memory: int = DEFAULT_MEMORY, shown: str | None = None, categories: list | None = None,
                 hold: list[str] | None = None, beside: Table | None = None, weight_column: str | None = None):
        if sample_weight is not None and weight_column is not None:  # (evaluate's too, as train's options)
            raise InputError(f"--weight-column: {WEIGHTS_TWICE}")
        self.path, self.shown = os.fspath(path), shown or os.fspath(path)
        # (--weight-column's name as given until the column is found: what a block's row costs counts its weight)
        self.x_name, self.y_name = x, y
        self.w_name = sample_weight if weight_column is None else f"{x}:{weight_column}"
        self.label_column, self.weight_column, self.features, self.transpose = (label_column, weight_column,
                                                                                features, transpose)
        self.allow_unwritten, self.classes = allow_unwritten, classes
        self._selection = {"x": x, "y": y, "label_column": label_column, "features": features, "transpose": transpose,
                           "allow_unwritten": allow_unwritten, "classes": classes, "sample_weight": sample_weight,
                           "labels": labels, "shown": self.shown, "categories": categories,
                           "weight_column": weight_column}
        self.W, self.memory, self.beside, self._whole_chunks = None, memory, beside, None
        self.file = hdf5.open_file(self.path)
        try:
            self.identity = FileIdentity.of_open(self.path, self.file)
            with hdf5.reading(self.shown):
                self._open(x, y if labels else None, labels, categories)
                if sample_weight is not None:
                    self.W = rowweights.of_dataset(self, sample_weight)
                # the labels and weights as read where not held (what each choice needs: ``least_memory``)
                self.unheld = {role: r for role, r in (("y", self.Y), ("w", self.W)) if r is not None}
                self.hold(hold)
        except BaseException:
            self.close()
            raise

    def nonfinite(self, row: int) -> str:
        return nonfinite.message(self, row)  # what is wrong with the features of file row ``row``

    def where(self, name: str) -> str:
        """How messages name ``name`` of this table's file (``x_name``, ``y_name``, ``w_name``): FILE:NAME."""
        return where_in(self.shown, name)

    def selection(self) -> dict:
        """The keywords besides the path that open this table again (another process, a worker): with the
        class names found here, so that it reads names as the same codes without a pass of its own."""
        return {**self._selection, "classes": self.class_names}

    def _open(self, x, y, labels, categories):
        where = self.where(x)
        self.sparse = False
        stored = producers.lookup(self.file, x, "dataset or group")  # what is wrong with it, said as --x's
        self.hashing = hashing.read(stored) if isinstance(stored, (h5py.Dataset, h5py.Group)) else None
        # how convert made X from the columns of a CSV file (data/csvcolumns.py), as JSON
        self.encoding = csvcolumns.written(stored.attrs) if isinstance(stored, (h5py.Dataset, h5py.Group)) else None
        if is_csr(stored):
            return self._open_sparse(x, y)
        try:
            found = producers.find_features(self.file, x, self.label_column, self.features, self.transpose,
                                            self.classes, labels, self.memory, self.weight_column)
        except MemoryShort as short:  # a label column's names: likewise, below
            raise short if short.features is None else short.at_least(short.rows * self._block_row_bytes(
                short.features)) from None
        n = found.features[0].n_rows
        for source in found.features[1:]:
            if source.n_rows != n:
                raise InputError(f"{where}: column {source.names[0]!r} has {source.n_rows} rows but "
                                 f"{found.features[0].names[0]!r} has {n}")
        labels, self.class_names = None, found.class_names
        if found.label is None and y is not None:
            labels, self.class_names = self._labels(y, n, found)
            rows = labels.shape[0] if isinstance(labels, h5py.Dataset) else labels.n_rows
            if rows != n:
                raise InputError(rowcount.mismatch(self.shown, x, y, rows, found, labels))
            mudatafiles.check_order(self.file, x, y, self.where(y))
            pandasindex.check_aligned(stored, self.file.get(y), n, where, self.where(y))
            producers.refuse_feature_labels(found, labels, x, self.where(y))
        if found.plain and 0 in found.features[0].ds.shape:
            raise InputError(f"{where}: dataset is empty (shape {found.features[0].ds.shape})")
        self._check_written(found, labels)  # before any reader looks at the storage (a declared 10^12 rows)
        self.x_wide = any(wider_than(s.dtype, FEATURE_DTYPE) for s in found.features)
        self._x_packed = any(s.packing is not None and s.packing.missing for s in found.features)
        self._x_coded = any(isinstance(s, CodedFields) and len(s.coded_at) for s in found.features)
        # the features that hold codes, read through the names of their categories (``categories``: what a model's
        # features held, in its order: data/categories.py ``expected``)
        self.categories = categories_mod.read_as(found.features, categories, where)
        self._x_recoded = any(isinstance(s, Fields) and s.recodes for s in found.features)
        # the columns that are no features (the label aside), with what they hold: info says why
        self.left_out = {name: "text" if reader is not None else "text (pickled)"
                         for name, reader in found.text.items() if name != self.label_column}
        self.left_out.update(found.left_out)
        self.X = self._x_reader(found)
        self.n_rows, self.n_features = n, self.X.width if not found.plain else int(found.features[0].ds.shape[1])
        self.feature_names = [name for source in found.features for name in source.names]
        # the names a model keeps: None where the file's columns and those read are numbered 0, 1, 2, ...
        self.known_names = None if not found.named and numbered(self.feature_names) else self.feature_names
        self.x_kind, self.Y = found.kind, None
        if found.label is not None:
            self.y_name = f"{x}:{found.label.names[0]}"
            self.Y = ComposedReader([found.label], LABEL_DTYPE, self.y_name, squeeze=True)
            self.y_dtype = _base_dtype(found.label)
        elif isinstance(labels, h5py.Dataset):
            self.Y, self.y_dtype = ColumnReader(labels, LABEL_DTYPE, squeeze=True), labels.dtype
        elif labels is not None:
            self.Y, self.y_dtype = ComposedReader([labels], LABEL_DTYPE, y, squeeze=True), _base_dtype(labels)
        if self.weight_column is not None:  # (no weights where no labels are read: predict leaves the column out)
            self.w_name = None if found.weight is None else f"{x}:{found.weight.names[0]}"
            self.W = None if found.weight is None else rowweights.of_column(found.weight, self.w_name)

    def _x_reader(self, found):
        return (ColumnReader(found.features[0].ds, FEATURE_DTYPE) if found.plain else
                ComposedReader(found.features, FEATURE_DTYPE, self.x_name))

    def _labels(self, y: str, rows: int, found=None):
        """--y's labels and class names; a refusal of text labels' chunks names the --memory that the epochs
        take too (data/budget.py ``after_names``; ``found``: X's columns; None: a CSR matrix)."""
        try:
            return producers.find_labels(self.file, y, self.classes, rows=rows, memory=self.memory,
                                         x=self.x_name if found else None)
        except MemoryShort as short:  # (the readers the epochs would read X and the weights with, closed after)
            x = self.X if found is None else self._x_reader(found)
            w = self.file.get(self.w_name) if self.w_name else None
            w = ColumnReader(w, LABEL_DTYPE, squeeze=True) if isinstance(w, h5py.Dataset) else None
            try:
                need = budget.after_names(short, self.where(y), rows, self._block_row_bytes(
                    sum(s.width for s in found.features) if found else None), x, w, np.dtype(LABEL_DTYPE).itemsize)
            finally:
                for reader in (x, w) if found is not None else (w,):
                    if reader is not None:
                        reader.close()
            raise short.at_least(need) from None

    def _open_sparse(self, x, y) -> None:
        """A CSR matrix as the features (data/sparse.py): labels from --y; --features only where its columns
        have names (AnnData's var: data/featurenames.py), which it then picks them by."""
        where = self.where(x)
        reader = CsrReader(self.file[x])
        # known by position only (a list of names would cost more than the model), unless named beside the
        # matrix, as AnnData's genes are
        names = featurenames.column_names(self.file[x], reader.width)
        for option, value in (("label-column", self.label_column), ("weight-column", self.weight_column),
                              ("transpose", self.transpose or None)):
            if value is not None:
                raise InputError(f"--{option}: {where} is a sparse (CSR) matrix, whose columns are not selected "
                                 "or transposed")
        if self.features is not None and names is None:
            raise InputError(f"--features: {where} is a sparse (CSR) matrix, whose columns are not selected unless "
                             "they have names (AnnData's genes)")
        if 0 in (reader.n_rows, reader.width):
            raise InputError(f"{where}: the CSR matrix is empty (shape {(reader.n_rows, reader.width)})")
        keep = None if self.features is None else columnindex.select(names, self.features, where)
        self.x_wide, self._x_packed, self._x_coded = wider_than(reader.data.dtype, FEATURE_DTYPE), False, False
        self.categories, self._x_recoded = {}, False
        self.left_out = {}
        self.sparse, self.x_kind = True, "CSR sparse matrix"
        self.X = SparseX(reader, keep)
        self.n_rows, self.n_features = reader.n_rows, self.X.width
        self.feature_names = names if keep is None or names is None else [names[k] for k in keep]
        self.known_names = None if numbered(names) and numbered(self.feature_names) else self.feature_names
        labels, self.class_names = None, None
        if y is not None:
            labels, self.class_names = self._labels(y, self.n_rows)
            rows = labels.shape[0] if isinstance(labels, h5py.Dataset) else labels.n_rows
            if rows != self.n_rows:
                raise InputError(f"{self.where(y)}: has {rows} rows but {x} has {self.n_rows}"
                                 + mudatafiles.other_rows(self.file, x, y))
            mudatafiles.check_order(self.file, x, y, self.where(y))
        # (the matrix's parts were written: CsrReader; allocated early, they are warned of with the labels)
        self.unwritten_rows = unwritten_mod.checked(rowweights.stored(labels), self.allow_unwritten, self.where,
                                                    [reader.indptr, reader.data, reader.indices])
        self.Y = None
        if isinstance(labels, h5py.Dataset):
            self.Y, self.y_dtype = ColumnReader(labels, LABEL_DTYPE, squeeze=True), labels.dtype
        elif labels is not None:
            self.Y, self.y_dtype = ComposedReader([labels], LABEL_DTYPE, y, squeeze=True), _base_dtype(labels)

    def hold(self, roles: list[str] | None = None) -> None:
        """Hold the labels ("y") and weights ("w") that ``roles`` names whole (data/held.py), the others read in
        blocks; None: those that ``memory`` holds (data/budget.py ``Needs.choice``).  Before any read."""
        self._chosen = roles is None  # (else fixed: ``least_memory`` names what these need)
        if roles is None:
            roles = self._needs(self._block_row_bytes()).choice(self.memory - self.reserved)
        self.held = [role for role in roles if role in self.unheld]
        columns = {role: held.HeldColumn(self.unheld[role], self.n_rows) for role in self.held}
        self.Y, self.W = (columns.get(role, self.unheld.get(role)) for role in ("y", "w"))
        self.held_bytes, self._whole_chunks = sum(column.nbytes for column in columns.values()), None
        self._selection["hold"] = self.held

    def _check_written(self, found, labels) -> None:
        """Every dataset the table reads was written where it is read (data/unwritten.py ``checked``); with
        ``allow_unwritten``, ``unwritten_rows`` counts the rows read from fill values."""
        sources = found.features + [s for s in (found.label, found.weight) if s is not None]
        self.unwritten_rows = unwritten_mod.checked(
            [(ds, axis, s.columns_read(ds)) for s in sources for ds, axis in s.stored()] + rowweights.stored(labels),
            self.allow_unwritten, self.where)

    @property
    def chunk_rows(self) -> int:
        chunks = self.X.layout.chunks
        return int(chunks[0]) if chunks else 1

    def row_bytes(self, features: int | None = None) -> int:
        """Bytes one row occupies in flight: (``features``) features as float32 (a sparse row's entries), the label."""
        per_row = np.dtype(LABEL_DTYPE).itemsize * (1 if self.w_name is None else 2)  # the label, and the weight
        if self.sparse and features is None:
            return self.X.reader.row_bytes() + per_row
        return (self.n_features if features is None else features) * np.dtype(FEATURE_DTYPE).itemsize + per_row

    def _block_row_bytes(self, features: int | None = None, extra_per_row: int = BUFFERS * ROW_BOOKKEEPING) -> int:
        """What a row takes of --memory in the blocks of the epochs (``block_rows``)."""
        return BUFFERS * self.row_bytes(features) + extra_per_row

    def block_rows(self, memory: int, extra_per_row: int = BUFFERS * ROW_BOOKKEEPING, windows: bool = False) -> int:
        """Rows per block so that BUFFERS blocks (plus per-row bookkeeping) fit ``memory``.

        Blocks are whole multiples of the chunk height (the page shuffle's
        ``windows``: of ``unit_rows``), so every chunk is read once.  The
        labels and weights held whole (``held_bytes``), and what another
        table holds meanwhile (``reserved``), take their part of ``memory``
        first.  A refusal names ``least_memory``.
        """
        per_row = self._block_row_bytes(extra_per_row=extra_per_row)
        budget = memory - self.held_bytes - self.reserved
        if self._whole_chunks is None:  # refused before any is read; X's rows are the check below's
            self._whole_chunks = ([c._replace(rows=None) for c in wholechunks.of_reader(self.X)]
                                  + [c for r in (self.Y, self.W) for c in wholechunks.of_reader(r)])
        short = wholechunks.refusal(self._whole_chunks, budget, per_row, BUFFERS,
                                    per_row * max(self.unit_rows, self.chunk_rows))
        if short is not None:
            raise MemoryShort(memory, short.holds, self.least_memory(memory, extra_per_row), short.rows)
        rows = budget // per_row
        chunk = self.chunk_rows if not windows else self.unit_rows
        if rows < chunk:
            name = self.tallest_unit()[0] if chunk > self.chunk_rows else self.x_name
            dense = f" × {self.n_features:,} features" if name == self.x_name and not self.sparse else ""
            raise BlocksShort(memory, f"{BUFFERS} blocks of one chunk of {self.where(name)} ({chunk:,} rows{dense})",
                              self.least_memory(memory, extra_per_row))
        rows = rows // chunk * chunk
        return int(min(rows, -(-self.n_rows // chunk) * chunk))

    @property
    def reserved(self) -> int:
        return self.beside.held_bytes if self.beside is not None else 0

    def held_at(self, memory: int) -> int:
        """The bytes of labels and weights that this table holds whole at --memory ``memory`` (``hold``)."""
        rule = self._needs(self._block_row_bytes())
        return rule.held_bytes(rule.choice(memory - self.reserved)) if self._chosen else self.held_bytes

    def least_memory(self, memory: int, extra_per_row: int = BUFFERS * ROW_BOOKKEEPING, floor: int = 0) -> int:
        """The least --memory above ``memory`` (and at least ``floor``) that holds the blocks (``extra_per_row``
        bytes a row besides its values), the windows and a CSR matrix's heaviest row, with the columns it would
        hold (data/budget.py) where ``memory`` is the budget they were chosen by, else (a thread's share, or the
        columns held given) with those held, and ``reserved``."""
        heaviest = int(self.sparse and self._costs(memory, extra_per_row).of(1, csrblocks.heaviest_row(self.X.reader)))
        needs = self._needs(self._block_row_bytes(extra_per_row=extra_per_row), heaviest)
        if memory != self.memory or not self._chosen:
            return max(needs.need(self.held) + self.reserved, floor)
        return budget.least_beside(needs, self._needs(self._block_row_bytes()), max(memory + 1, floor), self.beside)

    def _needs(self, per_row: int, heaviest: int = 0) -> budget.Needs:
        return budget.Needs.of_table(self, per_row, np.dtype(LABEL_DTYPE).itemsize, heaviest)

    @property
    def unit_rows(self) -> int:
        """Rows best read together, for X and y both: 1 where both can be read anywhere in place."""
        return budget.combined_unit([reader.unit_rows for _, reader in self.readers()])

    def readers(self) -> list[tuple[str, object]]:
        """X, and y and the weights where opened, each with its name."""
        named = ((self.x_name, self.X), (self.y_name, self.Y), (self.w_name, self.W))
        return [(name, reader) for name, reader in named if reader is not None]

    def tallest_unit(self) -> tuple[str, object]:
        """The reader (and its name) whose read units are the tallest, which make the table's runs: X where they tie."""
        return max(self.readers(), key=lambda named: named[1].unit_rows)

    def page_shuffle_at(self, memory: int, page_rows: int, seed: int) -> PageShuffle:
        """The page shuffle that a run at --memory ``memory`` would make, holding the labels and weights that it
        would hold there (``hold``); this table's own held columns (their values, where read) kept."""
        kept = (self._chosen, self.held, self.Y, self.W, self.held_bytes, self._whole_chunks)
        try:
            if self._chosen:
                self.hold(self._needs(self._block_row_bytes()).choice(memory - self.reserved))
            return self.page_shuffle(memory, page_rows, seed, True)
        finally:
            self._chosen, self.held, self.Y, self.W, self.held_bytes, self._whole_chunks = kept

    def page_shuffle(self, memory: int, page_rows: int, seed: int, shuffle: bool) -> PageShuffle:
        """The page shuffle of this table's rows, two windows of it in ``memory`` (data/shuffle.py).

        Windows are whole read units (``unit_rows``): a table read in place
        gets the same order whatever its chunks.
        """
        unit = self.unit_rows
        window_rows = self.block_rows(memory, windows=True)

        def plan(max_extent=None):
            return PageShuffle.plan(self.n_rows, window_rows, unit, self.row_bytes(), page_rows, seed, shuffle, memory,
                                    max_extent)

        if self.sparse:  # windows cut by their rows' own nonzeros (data/csrblocks.py)
            return csrblocks.fit_windows(plan(), self._costs(memory, BUFFERS * ROW_BOOKKEEPING), plan)
        return plan()

    def spans(self, block_rows: int, memory: int, extra_per_row: int = BUFFERS * ROW_BOOKKEEPING
              ) -> list[tuple[int, int]]:
        """The blocks of ``block_rows`` (from ``block_rows(memory, extra_per_row)``) of the passes, in file order;
        for a CSR matrix, cut sooner where their rows' own nonzeros would pass ``memory``."""
        if self.sparse:
            return csrblocks.row_spans(self._costs(memory, extra_per_row), block_rows)
        return [(s, min(s + block_rows, self.n_rows)) for s in range(0, self.n_rows, block_rows)]

    def _costs(self, memory: int, extra_per_row: int) -> csrblocks.Costs:
        """What CSR rows take in flight in BUFFERS blocks (``block_rows``' reckoning with each row's own
        nonzeros): their offsets, labels and ``extra_per_row``, and their entries."""
        labels = self.row_bytes() - self.X.reader.row_bytes()
        return csrblocks.Costs(self.X.reader, BUFFERS * (OFFSET_BYTES + labels) + extra_per_row,
                               BUFFERS * ENTRY_BYTES, memory, BUFFERS, self.held_bytes + self.reserved)

    def fingerprint(self) -> dict:
        return fingerprint(self)

    @functools.cached_property
    def content(self) -> str:
        """The file's content digest (data/identity.py ``content_digest``), read once."""
        return content_digest(self.path)

    def close(self):
        for reader in (getattr(self, "X", None), getattr(self, "Y", None), self.W):
            if reader is not None:
                reader.close()
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _base_dtype(source: Source) -> np.dtype:
    """The stored type of a one-column source's values: a field's element type for a table; the codes' for
    labels that are names."""
    if isinstance(source, (TextLabels, Codes)):
        return np.dtype(np.int64)
    if isinstance(source, Fields):
        return source.ds.dtype.fields[source.columns[0][0]][0].base
    return source.dtype  # as stored, or as decoded from CF packing

