"""Whether a file is still the one that was opened: its device, inode, size and modification time.

A file cut short under a reader is not an error to every read path.  A
memory map of it faults (SIGBUS, which kills the process); HDF5's default
driver reads zeros past the end of the file, so chunk-read and filtered data
of a file truncated, or rewritten in place, while it is read come back as
rows of zeros, or as rows of another file, without a word.  A run therefore
takes the identity of each file it reads when it opens it, and compares it
with the file at the same path (``change``) at the moments that matter (a
stat: about a microsecond).  The device and inode tell a file replaced by
another (renamed over it) or removed; the size and the modification time, one
written into.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os

# Runs of bytes a file's content digest reads, spread evenly over it, the first and the last included, and their
# length: a few hundred KiB read, once a run, that tell apart two files of the same size and modification time
# (a copy that kept the time, an archive's or an image's fixed times) wherever they differ in more than a few
# places, without reading either whole.
DIGEST_RUNS = 64
DIGEST_BYTES = 4096


def content_digest(path) -> str:
    """A digest of the file's size and of DIGEST_RUNS runs of DIGEST_BYTES bytes spread evenly over it."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        h.update(size.to_bytes(8, "little"))
        last = max(size - DIGEST_BYTES, 0)
        for k in sorted({last * k // (DIGEST_RUNS - 1) for k in range(DIGEST_RUNS)}):
            h.update(os.pread(fh.fileno(), DIGEST_BYTES, k))
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class FileIdentity:
    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path, st: os.stat_result | None = None) -> "FileIdentity":
        """The identity of the file at ``path`` now, or, given ``st``, of the file that stat describes (``os.fstat``
        of a descriptor open on it: the file a reader holds, whatever is at its path)."""
        st = os.stat(path) if st is None else st
        return cls(os.fspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    @classmethod
    def of_open(cls, path, f) -> "FileIdentity":
        """The identity of the file at ``path`` that HDF5 holds open as ``f`` (an h5py.File): through its
        descriptor, so that a file renamed over the path meanwhile is not mistaken for it."""
        try:
            return cls.of(path, os.fstat(f.id.get_vfd_handle()))
        except (OSError, TypeError, ValueError, RuntimeError):  # a driver without one descriptor
            return cls.of(path)

    def change(self) -> str | None:
        """What became of the file since, in words ("changed while it was being read (size 16000800 → 4000000
        bytes)"); None where the file at ``path`` is still this one, as it was."""
        try:
            now = FileIdentity.of(self.path)
        except FileNotFoundError:
            return "was removed or renamed while it was being read"
        except OSError as exc:
            return f"can no longer be looked at ({exc.strerror or exc}) while it was being read"
        if (now.device, now.inode) != (self.device, self.inode):
            return f"was replaced by another file while it was being read (inode {self.inode} → {now.inode})"
        if now.size != self.size:
            return f"changed while it was being read (size {self.size} → {now.size} bytes)"
        if now.mtime_ns != self.mtime_ns:
            return (f"changed while it was being read (modification time {_clock(self.mtime_ns)} → "
                    f"{_clock(now.mtime_ns)})")
        return None


def _clock(ns: int) -> str:
    """A modification time as local ISO time to the microsecond."""
    return datetime.datetime.fromtimestamp(ns / 1e9).isoformat(timespec="microseconds")


def fingerprint(table) -> dict:
    """What a model and a checkpoint record of the data a table (data/table.py Table) read: its file (as it is
    now: a later change shows in --resume checks), what in it was read, and its content digest."""
    st = os.stat(table.path)
    return {
        "path": os.path.abspath(table.path),
        "x": table.x_name,
        "y": table.y_name,
        **({"label_column": table.label_column} if table.label_column is not None else {}),
        **({"features": table.features} if table.features is not None else {}),
        **({"transpose": True} if table.transpose else {}),
        **({"sample_weight": table.w_name} if table.w_name is not None else {}),
        "shape": [table.n_rows, table.n_features],
        "dtype": table.X.layout.dtype,
        "size": st.st_size,
        "mtime": st.st_mtime,
        "content": table.content,
    }
