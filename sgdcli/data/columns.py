"""Row ranges of one dataset, read the cheapest way its storage allows.

Contiguous, unfiltered datasets are memory-mapped at their file offset: native
float32 features are then used in place, with no copy.  Unfiltered chunks are
mapped too, and runs of chunks stored one after another are used in place.
Everything else is read in chunk-aligned row blocks into buffers that are
reused from block to block, so each chunk is read (and decompressed) once per
pass and memory stays bounded by the blocks in flight.  gzip-compressed chunks
are decoded on all cores (chunks.py); other filters are decoded by HDF5.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os

import numpy as np

from sgdcli.data import chunks, layout
from sgdcli.data.numeric import cast_into
from sgdcli.data.where import where_of
from sgdcli.errors import InputError, first_line
from sgdcli.kernels.gather import gather_rows, row_offsets, take_values, touch_pages

try:
    _mincore = ctypes.CDLL(None, use_errno=True).mincore
    _mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    _mincore.restype = ctypes.c_int
except (OSError, AttributeError):  # no mincore (Windows): page in every window
    _mincore = None

READ_BYTES = 1 << 20  # a contiguous dataset that cannot be mapped is read in runs of about this many bytes


class ColumnReader:
    """Reads row ranges of one dataset as ``dtype``, memory-mapped where possible.

    ``squeeze``: an (N, 1) dataset (labels as pandas, MATLAB and many scripts
    write them) is read as the N values it holds, like a 1-D one; its bytes
    are laid out the same way, so it is mapped the same way.
    """

    def __init__(self, ds, dtype, squeeze: bool = False):
        self.ds = ds
        self.dtype = np.dtype(dtype)
        self.layout = layout.layout_of(ds)
        problem = layout.unavailable_filter(ds)
        if problem is not None:
            raise InputError(f"{where_of(ds)}: {problem}")
        self.squeezed = squeeze and ds.ndim == 2 and ds.shape[1] == 1
        self.row_shape = () if self.squeezed else tuple(ds.shape[1:])
        self._map = None
        self._array = None
        self._bytes = None
        self._decoder = None
        self._chunk_offsets = None
        self._flat = None  # the mapped file as one flat array of the dataset's type, for gathers and takes
        self._complete = False  # every chunk allocated (a contiguous dataset: mapped whole)
        self._touched = None  # per range of page_in: paged into this process's page tables already
        self._fd = -1
        if self.layout.read_mode == "memory-mapped" and ds.size > 0:
            self._map_file(ds)
        elif self.layout.read_mode == layout.MAPPED_CHUNKS:
            self._map_chunks(ds)
        elif self.layout.read_mode == layout.PARALLEL_DECODE:
            self._decoder = chunks.ChunkDecoder(ds)
        else:
            chunks.check_stored(ds)  # (read through HDF5, which reads a chunk stored short past its end)

    def _map_file(self, ds):
        offset = self.layout.offset
        nbytes = self.layout.logical_bytes
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        with open(ds.file.filename, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < offset + nbytes:
                raise InputError(f"{where_of(ds)}: file is shorter than the dataset it declares (truncated?)")
            # A private (copy-on-write) mapping: pages stay shared with the page cache
            # since nothing writes them, and the arrays are typed writable, so the
            # kernels compile once for buffers and mapped blocks alike.
            self._map = mmap.mmap(fh.fileno(), offset - start + nbytes, access=mmap.ACCESS_COPY, offset=start)
        self._map_start = start
        self._bytes = np.frombuffer(self._map, dtype=np.uint8)
        self._array = np.frombuffer(self._map, dtype=ds.dtype, count=int(np.prod(ds.shape)),
                                    offset=offset - start).reshape(ds.shape[0], *self.row_shape)
        if ds.ndim in (1, 2) and _compiled_type(ds.dtype):  # one "chunk" of every row at offset 0 of the flat array
            self._flat = self._array.reshape(-1)
            self._flat_offsets = np.zeros(1, dtype=np.int64)
            self._flat_rows = int(ds.shape[0])
            self._complete = True

    def _map_chunks(self, ds):
        """Map the whole file and locate the row chunks; runs of adjacent chunks are then read in place.

        If the first allocated chunk's mapped bytes differ from what HDF5 returns
        for its first and last rows (an unexpected address convention), nothing
        is mapped and HDF5 reads every block.  Rows, not the whole chunk: a copy
        of a chunk larger than --memory would break the budget before the
        budget's own check refuses the file.  A chunk whose first row HDF5
        reads otherwise (chunks.misplaced: a damaged index) is refused.
        """
        offsets = chunks.chunk_offsets(ds)
        allocated = np.flatnonzero(offsets >= 0)
        if len(allocated) == 0:
            return
        self._chunk_bytes = int(np.prod(ds.chunks)) * ds.dtype.itemsize
        with open(ds.file.filename, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if int(offsets.max()) + self._chunk_bytes > size:
                return  # truncated: HDF5 reads report it with the rows concerned
            self._map = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)
            self._fd = os.dup(fh.fileno())
        self._map_start = 0
        self._bytes = np.frombuffer(self._map, dtype=np.uint8)
        if not self._same_rows(ds, int(allocated[0]), int(offsets[allocated[0]])):
            self.close()
            return
        bad = chunks.misplaced(ds, offsets, self._bytes)
        if bad is not None:
            self.close()
            rows = ds.chunks[0]
            raise InputError(f"{where_of(ds)}: damaged chunk index: it lists the chunk of rows {bad * rows:,}–"
                             f"{min((bad + 1) * rows, ds.shape[0]) - 1:,} at byte {int(offsets[bad]):,}, where HDF5's "
                             "reads do not find it")
        self._chunk_offsets = offsets
        itemsize = ds.dtype.itemsize
        if ds.ndim in (1, 2) and _compiled_type(ds.dtype) and not np.any(offsets[allocated] % itemsize):
            self._flat = np.frombuffer(self._map, dtype=ds.dtype, count=size // itemsize)
            self._flat_offsets = offsets // itemsize
            self._flat_rows = int(ds.chunks[0])
            self._complete = len(allocated) == len(offsets)

    def _same_rows(self, ds, k: int, at: int) -> bool:
        """Whether the mapped bytes of chunk ``k``, stored at byte ``at``, hold the first and the last of its rows
        within the dataset as HDF5 reads them."""
        row_shape = ds.chunks[1:]
        row_bytes = int(np.prod(row_shape, dtype=np.int64)) * ds.dtype.itemsize
        start = k * ds.chunks[0]
        for i in {start, min(start + ds.chunks[0], ds.shape[0]) - 1}:
            got = ds[(slice(i, i + 1), *(slice(0, c) for c in row_shape))]
            mapped = self._bytes[at + (i - start) * row_bytes: at + (i - start + 1) * row_bytes]
            if mapped.tobytes() != np.ascontiguousarray(got, dtype=ds.dtype).tobytes():
                return False
        return True

    def _mapped(self, start: int, stop: int) -> np.ndarray | None:
        """Rows [start, stop) as an array over the memory map, in the file's dtype, if they are mapped."""
        if self._array is not None:
            return self._array[start:stop]
        if self._chunk_offsets is None or stop <= start:
            return None
        rows = self.ds.chunks[0]
        k0, k1 = start // rows, (stop - 1) // rows + 1
        offsets = self._chunk_offsets[k0:k1]
        if offsets[0] < 0 or np.any(np.diff(offsets) != self._chunk_bytes):
            return None  # a chunk missing, or chunks not stored one after another
        per_row = int(np.prod(self.row_shape, dtype=np.int64))
        run = np.frombuffer(self._map, dtype=self.ds.dtype, count=(k1 - k0) * rows * per_row, offset=int(offsets[0]))
        return run.reshape(-1, *self.row_shape)[start - k0 * rows : stop - k0 * rows]

    def _read_chunks(self, start: int, stop: int, dest: np.ndarray) -> bool:
        """Read rows [start, stop) into ``dest`` run by run of adjacent chunks, with ``preadv``.

        For blocks whose chunks are not stored one after another.  A block read
        this way costs about what HDF5's read_direct does, and far less than
        copying it out of the memory map page by page (`make bench`'s chunked
        row).  False when ``dest`` needs a type conversion: HDF5 then reads it.
        """
        if dest.dtype != self.ds.dtype or not dest.flags.c_contiguous or not hasattr(os, "preadv"):
            return False
        rows = self.ds.chunks[0]
        row_bytes = dest.itemsize * int(np.prod(self.row_shape, dtype=np.int64))
        k, last = start // rows, (stop - 1) // rows
        while k <= last:
            offset = int(self._chunk_offsets[k])
            run = k + 1  # extend over the chunks stored right after this one
            while run <= last and offset >= 0 and self._chunk_offsets[run] == offset + (run - k) * self._chunk_bytes:
                run += 1
            lo, hi = max(start, k * rows), min(stop, run * rows)
            target = dest[lo - start : hi - start]
            if offset < 0:
                target[...] = self.ds.fillvalue
            else:
                view = memoryview(target).cast("B")
                at = offset + (lo - k * rows) * row_bytes
                done = 0
                while done < len(view):
                    got = os.preadv(self._fd, [view[done:]], at + done)
                    if got <= 0:
                        raise OSError(errno.EIO, f"file ends inside chunk at row {k * rows}")
                    done += got
            k = run
        return True

    def gather(self, start: int, order: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        """Rows ``start + order[k]``, in that order, into the buffer ``out`` (where ``random_access``)."""
        n = len(order)
        if out is None or out.shape[0] < n:
            out = np.empty((n, *self.row_shape), dtype=self.dtype)
        return gather_rows(self._flat, self._flat_offsets, self._flat_rows, start, order, out[:n])

    @property
    def random_access(self) -> bool:
        """Whether single rows anywhere can be read at memory speed: the dataset is mapped and fully allocated
        (a dataset of one value a row, labels or weights, in any numeric type: ``take`` converts with NumPy
        what the compiled gathers do not read, so every such column is read in the same order)."""
        return self._flat is not None and self._complete or self._array is not None and self.row_shape == ()

    def in_place(self) -> np.ndarray | None:
        """The memory map as one flat array of ``self.dtype`` that holds every row, if there is one (``place``).

        A contiguous dataset, or chunks wherever they lie in the file (other
        data between them included): the kernels read a row as the elements
        from its offset on.
        """
        if not self.random_access or self._flat.dtype != self.dtype:
            return None
        return self._flat

    def place(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The element offsets in ``in_place()`` where the rows ``rows`` of the dataset start (into ``out``, a
        reusable buffer of at least ``len(rows)``, where given)."""
        width = int(np.prod(self.row_shape, dtype=np.int64))
        out = np.empty(len(rows), dtype=np.int64) if out is None else out[:len(rows)]
        return row_offsets(rows, self._flat_offsets, self._flat_rows, width, out)

    def take(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The rows ``rows`` (row numbers of the dataset), in that order, as ``self.dtype`` (where ``random_access``),
        into ``out`` (a reusable buffer of at least ``len(rows)`` rows) where given."""
        if self.ds.ndim == 2 and not self.squeezed:
            return self.gather(0, rows, out)
        if self._flat is None:  # mapped whole, in a type the compiled gathers do not read (float16, another byte order)
            return self._array[rows].astype(self.dtype, copy=False)
        out = np.empty(len(rows), dtype=self.dtype) if out is None else out[:len(rows)]
        return take_values(self._flat, self._flat_offsets, self._flat_rows, rows, out)

    @property
    def unit_rows(self) -> int:
        """Rows best read together: 1 where ``random_access`` or mapped whole (a dataset of another byte order: a
        run of any length is a copy out of the map), else a chunk, or about READ_BYTES of rows."""
        if self.random_access or self._array is not None:
            return 1
        if self.layout.chunks:
            return int(self.layout.chunks[0])
        row = max(1, int(np.prod(self.row_shape, dtype=np.int64)) * self.ds.dtype.itemsize)
        return max(1, min(READ_BYTES // row, int(self.ds.shape[0])))

    def read_ranges(self, ranges: list[tuple[int, int]], out: np.ndarray) -> np.ndarray:
        """The row ranges laid end to end in the buffer ``out``; gzip chunks of all of them are decoded in parallel."""
        at = 0
        jobs = []
        for start, stop in ranges:
            dest = out[at:at + stop - start]
            if self._decoder is not None:
                jobs.append((start, stop, self._as_stored(dest)))
            else:
                got = self.read(start, stop, dest)
                if got is not dest:
                    dest[...] = got
            at += stop - start
        if jobs:
            try:
                self._decoder.read_many(jobs)
            except chunks.ChunkError as exc:
                raise InputError(f"{where_of(self.ds)}: cannot read rows {exc.start}-{exc.stop} ({exc.reason})") from None
        return out[:at]

    def _byte_ranges(self, starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Offsets in the memory map of the mapped rows [starts[k], stops[k])."""
        row = self._flat.itemsize * max(1, int(np.prod(self.row_shape, dtype=np.int64)))
        base = self._flat.__array_interface__["data"][0] - self._bytes.__array_interface__["data"][0]
        c = self._flat_rows
        lo = base + self._flat_offsets[starts // c] * self._flat.itemsize + (starts % c) * row
        return lo, lo + (stops - starts) * row

    def cached(self, starts: np.ndarray, stops: np.ndarray, sample: int = 32) -> bool:
        """Whether the mapped rows [starts[k], stops[k]) are in the page cache, judged on ``sample`` of the ranges.

        One ``mincore`` call per range looked at; False where that cannot be told.
        """
        if self._flat is None or self._map is None or _mincore is None:
            return False
        lo, hi = self._byte_ranges(starts, stops)
        address = self._bytes.__array_interface__["data"][0]
        vec = np.empty(-(-int((hi - lo).max(initial=0)) // mmap.PAGESIZE) + 1, dtype=np.uint8)
        for k in range(0, len(lo), max(1, len(lo) // sample)):
            first = address + int(lo[k]) - (address + int(lo[k])) % mmap.PAGESIZE
            size = address + int(hi[k]) - first
            if size <= 0:
                continue
            if _mincore(ctypes.c_void_p(first), ctypes.c_size_t(size), vec.ctypes.data_as(ctypes.c_void_p)):
                return False
            if not np.all(vec[:-(-size // mmap.PAGESIZE)] & 1):
                return False
        return True

    def page_in(self, starts: np.ndarray, stops: np.ndarray, ids: np.ndarray, n_ids: int) -> None:
        """Bring the mapped rows [starts[k], stops[k]) (range ``ids[k]`` of ``n_ids``) into memory and this
        process's page tables.

        Called from the reader thread for the window after the one training.
        Ranges not in the page cache are asked for all at once (MADV_WILLNEED),
        so the disk reads them in parallel; then every page of a range not
        touched before in this process (or not cached) is touched, so that
        neither the disk nor a page fault stalls the kernel.
        """
        if self._flat is None or self._map is None or len(starts) == 0:
            return
        if self._touched is None or len(self._touched) != n_ids:
            self._touched = np.zeros(n_ids, dtype=bool)
        cold = not self.cached(starts, stops)
        todo = np.ones(len(ids), dtype=bool) if cold else ~self._touched[ids]
        if cold:
            self._will_need(*self._byte_ranges(starts, stops))
        if todo.any():
            lo, hi = self._byte_ranges(starts[todo], stops[todo])
            touch_pages(self._bytes, lo, hi, mmap.PAGESIZE)
            self._touched[ids] = True

    def _will_need(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """MADV_WILLNEED for the byte ranges [lo[k], hi[k]) of the map, merged where they overlap or touch."""
        if not hasattr(mmap, "MADV_WILLNEED"):
            return
        lo = lo - lo % mmap.PAGESIZE
        keep = np.argsort(lo, kind="stable")
        lo, hi = lo[keep], hi[keep]
        reach = np.maximum.accumulate(hi)
        first = np.concatenate(([True], lo[1:] > reach[:-1]))
        last = np.concatenate((first[1:], [True]))
        for a, b in zip(lo[first].tolist(), reach[last].tolist()):
            try:
                self._map.madvise(mmap.MADV_WILLNEED, a, b - a)
            except (OSError, ValueError):
                return

    @property
    def zero_copy(self) -> bool:
        return self._array is not None and self._array.dtype == self.dtype

    def read(self, start: int, stop: int, out: np.ndarray | None) -> np.ndarray:
        """Rows [start, stop) as ``self.dtype``; ``out`` is a reusable buffer."""
        n = stop - start
        mapped = self._mapped(start, stop)
        if mapped is not None and mapped.dtype == self.dtype:
            return mapped
        if out is None or out.shape[0] < n:
            out = np.empty((n, *self.row_shape), dtype=self.dtype)
        dest = out[:n]
        if mapped is not None:
            cast_into(dest, mapped)
            return dest
        where = where_of(self.ds)
        stored = self._as_stored(dest)
        try:
            if self._chunk_offsets is not None and self._read_chunks(start, stop, stored):
                pass
            elif self._decoder is not None:
                self._decoder.read(start, stop, stored)
            else:
                for group in chunks.capped(self.ds, [(start, stop)] if n else []):  # (one span: a piece a group)
                    for a, b in group:
                        self.ds.read_direct(stored, np.s_[a:b], np.s_[a - start:b - start])
        except chunks.ChunkError as exc:
            raise InputError(f"{where}: cannot read rows {exc.start}-{exc.stop} ({exc.reason})") from None
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            raise InputError(f"{where}: cannot read rows {start}-{stop} ({first_line(exc)})") from None
        return dest

    def _as_stored(self, dest: np.ndarray) -> np.ndarray:
        """``dest`` in the dataset's own shape: (n, 1) for a squeezed one (a view)."""
        return dest.reshape(-1, 1) if self.squeezed else dest

    def preload(self, start: int, stop: int) -> None:
        """Bring rows [start, stop) of a memory map into memory and into this process's page tables.

        Called from the reader thread of a pass in file order for the block
        after the one being read: the whole range is requested at once
        (MADV_WILLNEED), then touched in file order, one byte per page.
        """
        mapped = self._mapped(start, stop)
        if mapped is not None and mapped.size:
            lo = mapped.__array_interface__["data"][0] - self._bytes.__array_interface__["data"][0]
            self._page_in(lo, lo + mapped.nbytes)

    def _page_in(self, lo: int, hi: int) -> None:
        lo -= lo % mmap.PAGESIZE
        try:
            self._map.madvise(mmap.MADV_WILLNEED, lo, hi - lo)
        except (AttributeError, OSError, ValueError):
            pass
        int(self._bytes[lo:hi:mmap.PAGESIZE].sum())  # one read per page, in order

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._array = None
        self._bytes = None
        self._flat = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a caller still holds a view; the GC closes it later
                pass
            self._map = None


def _compiled_type(dtype: np.dtype) -> bool:
    """Whether the compiled gathers read this type in place (Numba has no float16, and reads the machine's byte
    order only: NumPy converts the others)."""
    return dtype.isnative and (dtype.kind in "biuf" and dtype.itemsize > 2 or dtype.kind in "biu")
