"""Byte sizes as people write them (``512M``, ``1.5G``, ``64KiB``) and as sgdcli prints them; the memory a
process may use, and the largest chunk sgdcli writes."""

from __future__ import annotations

import fractions
import os
import re

from sgdcli.errors import InputError

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
# HDF5 before 2.0 (what MATLAB, R and most h5py builds link) refuses a chunk of 4 GiB or more, to write it or to
# read it; sgdcli writes none, so that every reader opens what it writes.
MAX_CHUNK_BYTES = 2**32 - 1
OLD_HDF5 = "HDF5 before 2.0 (in MATLAB, R and most h5py builds)"


def parse_size(text: str | int) -> int:
    """Parse ``512M``, ``1.5G``, ``64KiB`` or a plain byte count (binary units)."""
    if isinstance(text, int):
        return text
    m = _SIZE_RE.match(str(text))
    if not m:
        raise InputError(f"--memory: cannot read size {text!r}; use e.g. 512M or 2G")
    # exact, not through a float: 999999999999999999999 was refused as 1000000000000000000000
    try:
        return int(fractions.Fraction(m.group(1)) * _UNITS[m.group(2).lower()])
    except ValueError:  # past Python's 4,300 digits of an integer's text: no machine's size
        raise InputError(f"--memory: {len(m.group(1)):,} digits are no size; use e.g. 512M or 2G") from None


def size_text(n: int) -> str:
    """``n`` bytes as ``parse_size`` reads it back, in the largest whole binary unit: 268435456 -> '256M'."""
    for unit in ("T", "G", "M", "K"):
        if n % _UNITS[unit.lower()] == 0 and n >= _UNITS[unit.lower()]:
            return f"{n // _UNITS[unit.lower()]}{unit}"
    return str(n)


def memory_limit() -> int | None:
    """The most memory this process may use, in bytes: the machine's, or less where a cgroup (a container, a
    systemd unit) or ``ulimit -v`` limits it; None where none of them can be read."""
    import resource

    found = []
    try:
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except (OSError, ValueError):
            continue
        if text.isdigit():
            found.append(int(text))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        found.append(soft)
    return min(found) if found else None


def format_size(n: float) -> str:
    """``n`` bytes for people to read: '512 B', '1.5 MiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_chunk_rows(rows: int, row_bytes: int) -> None:
    """InputError naming --chunk-rows where a chunk of ``rows`` rows of ``row_bytes`` bytes (the widest of the
    datasets that share the rows' chunks) is more than MAX_CHUNK_BYTES."""
    if rows * row_bytes <= MAX_CHUNK_BYTES:
        return
    if row_bytes > MAX_CHUNK_BYTES:  # (the callers refuse such rows first, naming what makes them so wide)
        raise InputError(f"--chunk-rows {rows}: a row alone is {format_size(row_bytes)}, and {OLD_HDF5} reads no "
                         "chunk of 4 GiB or more")
    raise InputError(f"--chunk-rows {rows}: its chunks would be {format_size(rows * row_bytes)} ({row_bytes:,} "
                     f"bytes a row), and {OLD_HDF5} reads no chunk of 4 GiB or more; give at most "
                     f"{MAX_CHUNK_BYTES // row_bytes:,}")


def whole_mib(n: int) -> str:
    """``n`` bytes rounded up to whole MiB, as --memory takes them: 2,400,000 -> '3M'."""
    return f"{-(-n // 2**20)}M"


class MemoryShort(InputError):
    """--memory (``memory`` bytes) cannot hold ``holds`` (a phrase: what one stream of blocks or windows must
    hold at once), which takes a budget of ``need`` bytes; the message names the --memory that would (``said``:
    the whole message, where it says more than that)."""

    def __init__(self, memory: int, holds: str, need: int, rows: int = 0, said: str | None = None):
        super().__init__(said or f"--memory: {format_size(memory)} cannot hold {holds}; raise --memory to at least "
                                 f"{whole_mib(need)}")
        self.memory, self.holds, self.need = memory, holds, need
        self.rows = rows  # of a chunk read whole, where that is what cannot be held
        self.features: int | None = None  # the features read beside those rows, where the refusal knows them

    def at_least(self, need: int) -> "MemoryShort":
        """This refusal, naming a --memory that holds ``need`` bytes too (what a later stage needs of the same
        chunks: one that held this stage alone was refused there next)."""
        return MemoryShort(self.memory, self.holds, max(self.need, need), self.rows)

    def beside(self, features: int) -> "MemoryShort":
        """This refusal, knowing the ``features`` read beside its rows."""
        self.features = features
        return self


class BlocksShort(MemoryShort):
    """--memory cannot hold two blocks of one chunk (data/table.py ``block_rows``)."""
