"""Compressed text of several streams one after another (files concatenated): every stream read, bytes after a
stream that are not one refused, and memory bounded by the reads whatever the compression ratio."""

import bz2
import gzip
import lzma
import tracemalloc

import h5py
import numpy as np
import pytest

from sgdcli.data.textfiles import open_input

from conftest import cli

zstandard = pytest.importorskip("zstandard")

COMPRESS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
            ".zst": lambda data: zstandard.ZstdCompressor().compress(data)}
HEAD = b"a,b,label\n"
ROWS = b"".join(f"{i},{i % 7},{i % 2}\n".encode() for i in range(20_000))
HALF = ROWS.index(b"\n", len(ROWS) // 2) + 1  # the first day's rows end here


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_concatenated_streams_are_read_to_the_end(tmp_path, suffix):
    pack = COMPRESS[suffix]
    path = tmp_path / f"d.csv{suffix}"
    path.write_bytes(pack(HEAD + ROWS[:HALF]) + pack(ROWS[HALF:]))
    code, _, err = cli("convert", path, "-o", tmp_path / "d.h5")
    assert code == 0, err
    with h5py.File(tmp_path / "d.h5") as f:
        assert np.array_equal(f["y"][()], np.arange(20_000) % 2)


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
@pytest.mark.parametrize("after", ["a damaged stream", "bytes that are no stream"])
def test_bytes_after_a_stream_that_are_not_one_are_refused(tmp_path, suffix, after):
    """`cat day1.csv.xz day2.csv.xz`, the second file damaged: bz2 and xz (Python's readers) ended the file at
    the first stream's end without a word, and convert, predict and evaluate read half the rows, exit 0."""
    pack = COMPRESS[suffix]
    second = bytearray(pack(ROWS[HALF:]))
    second[0] ^= 0xFF
    path = tmp_path / f"d.csv{suffix}"
    path.write_bytes(pack(HEAD + ROWS[:HALF]) + (bytes(second) if after == "a damaged stream" else b"trailing\n"))
    code, _, err = cli("convert", path, "-o", tmp_path / "d.h5")
    said = ("ends before its compressed data does" if suffix == ".gz" and after == "bytes that are no stream" else
            f"not readable as {suffix} data (")  # (ISA-L's gzip reader takes them for a member cut short)
    assert code == 2 and err.startswith(f"sgdcli: error: {path}: {said}"), err
    assert len(err.splitlines()) == 1 and not (tmp_path / "d.h5").exists()


def test_xz_stream_padding_between_streams_is_not_data(tmp_path):
    """The .xz format lets null bytes, four at a time, follow a stream (xz reads them as padding)."""
    path = tmp_path / "d.csv.xz"
    path.write_bytes(lzma.compress(HEAD + ROWS[:HALF]) + bytes(8) + lzma.compress(ROWS[HALF:]) + bytes(4))
    assert cli("convert", path, "-o", tmp_path / "d.h5")[0] == 0
    with h5py.File(tmp_path / "d.h5") as f:
        assert len(f["y"]) == 20_000


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_an_empty_compressed_file_is_an_empty_file_for_every_compression(tmp_path, suffix):
    """A 0-byte .bz2 or .xz was "does not begin with that compression's signature", a .gz or .zst "no data"."""
    path = tmp_path / f"d.svm{suffix}"
    path.write_bytes(b"")
    gz = tmp_path / "d.svm.gz"
    gz.write_bytes(b"")
    code, _, err = cli("convert", path, "-o", tmp_path / "d.h5")
    assert (code, err) == (2, cli("convert", gz, "-o", tmp_path / "d.h5")[2].replace(str(gz), str(path)))


@pytest.mark.parametrize("suffix", [".bz2", ".xz", ".zst"])
def test_a_read_holds_what_it_asks_for_whatever_the_compression_ratio(tmp_path, suffix):
    """A read of 1 MiB of Zstandard runs decoded everything 1 MiB of the file held: 409 MiB, from a 39 KB
    file.  bz2's and lzma's decoders stop at the size asked for; Zstandard's is given 1 KiB at a time, of which a
    byte decodes to 32 KiB at most (a run: 4 bytes a 128 KiB block), so a read holds 32 MiB more at most."""
    text = b"0" * (128 << 20)  # in a few KB
    path = tmp_path / f"d.csv{suffix}"
    path.write_bytes({".bz2": lambda data: bz2.compress(data, 1), ".xz": lambda data: lzma.compress(data, preset=0)}
                     .get(suffix, COMPRESS[suffix])(text))
    tracemalloc.start()
    try:
        with open_input(str(path), binary=True) as fh:
            for k in range(4):
                assert fh.read(1 << 20) == text[k << 20:(k + 1) << 20]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, peak / 2**20
