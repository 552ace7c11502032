"""How the datasets sgdcli writes are stored: the rows of a chunk, and the compression filters."""

from __future__ import annotations


def chunk_rows_for(width: int, itemsize: int) -> int:
    """Rows per chunk of a new ``width``-column dataset: about 1 MiB, a power of two in rows.

    Big enough that a chunk's index entry and read call are small against its
    data, small enough that a block of several chunks fits any sensible --memory.
    """
    target = max(1, (1 << 20) // (itemsize * width))
    return 1 << (target.bit_length() - 1)


def stored_bytes(rows: int, chunk_rows: int | None, row_bytes: int) -> int:
    """Bytes that ``rows`` rows of ``row_bytes`` take uncompressed in chunks of ``chunk_rows`` (None: contiguous):
    the last chunk is allocated whole."""
    return (-(-rows // chunk_rows) * chunk_rows if chunk_rows else rows) * row_bytes


def compression_filters(compression: str) -> dict:
    """h5py's ``create_dataset`` keywords for --compression none, gzip (level 1: decoding speed over size) or lzf."""
    if compression == "none":
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 1}
    return {"compression": compression}
