"""Text input, plain or compressed, opened the one way every reader of convert opens it.

A name ending in ``.gz``, ``.bz2``, ``.xz`` or ``.zst`` is read through its
decompressor as a stream (gzip with ISA-L's, several times zlib's speed;
Zstandard with the ``zstandard`` package, the optional extra ``zst``), never
decompressed to disk; the format comes from the name without that suffix
(``data.csv.gz`` is CSV).
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import io
import lzma
import os

from isal import igzip

from sgdcli.errors import InputError, first_line, missing_extra


def _bz2_open(path, mode="rb", **text):
    return _open_streams(path, mode, text, bz2.BZ2Decompressor, PIECE)


def _xz_open(path, mode="rb", **text):
    return _open_streams(path, mode, text, lzma.LZMADecompressor, PIECE, b"\0")


def _zstd_open(path, mode="rb", **text):
    try:
        import zstandard
    except ImportError:
        raise missing_extra(f"{path}: reading Zstandard", "the zstandard package", "zst") from None
    return _open_streams(path, mode, text, zstandard.ZstdDecompressor().decompressobj, ZSTD_PIECE)


def _open_streams(path, mode: str, text: dict, new, piece: int, padding: bytes = b""):
    """``path`` as a file of ``new()``'s streams one after another (``_Streams``), bytes or (``mode`` "rt") text."""
    stream = io.BufferedReader(_Streams(new, open(path, "rb"), piece, padding), READ_BYTES)
    return stream if mode == "rb" else io.TextIOWrapper(stream, **text)


READ_BYTES = 1 << 20  # the buffer the readers take decoded text from
# Python's csv module, which reads a CSV's header and convert's first pass (categories, means), refuses a field
# over 128 KiB ("field larger than field limit"), where the tokenizer and pandas read any: a long text field,
# even in a column left out, stopped --missing mean and --categorical.  Its limit is a C long's.
csv.field_size_limit(2**31 - 1)
# Compressed bytes given to a decompressor at a time.  Zstandard's decompressor returns all it decodes of them,
# up to 32 KiB a byte (a run of one byte takes 4 bytes a 128 KiB block), so it is given few: a read of 1 MiB of a
# file of runs held 409 MiB.  bz2's and lzma's stop at the size asked for.
ZSTD_PIECE, PIECE = 1 << 10, 1 << 16


class _Streams(io.RawIOBase):
    """The decoded bytes of a file of compressed streams one after another (bz2, xz, Zstandard frames: files
    concatenated), about as many at a time as asked for, whatever the compression ratio; an EOFError where the file
    ends inside a stream, and the decompressor's error where the bytes after a stream are not one (``padding``
    bytes between them aside: xz's stream padding).  The standard library's bz2 and lzma readers end the file
    without a word at bytes after a stream that are not one (a second file damaged), and the zstandard
    package's reader returned a cut file's bytes up to the cut, so files converted silently into shorter ones."""

    def __init__(self, new, fh, piece: int, padding: bytes):
        self._new, self._fh, self._piece, self._padding = new, fh, piece, padding
        self._stream = None  # the decompressor of the stream being read
        self._input = b""  # compressed bytes not yet given to it
        self._decoded, self._at = b"", 0

    def readable(self):
        return True

    def readinto(self, buffer):
        while self._at == len(self._decoded):
            stream = self._stream
            if not self._input and (stream is None or stream.eof or getattr(stream, "needs_input", True)):
                self._input = self._fh.read(self._piece)
                if not self._input:
                    if stream is not None and not stream.eof:
                        raise EOFError("compressed data cut short")
                    return 0
            if stream is None or stream.eof:
                self._input = self._input.lstrip(self._padding) if self._padding else self._input
                if not self._input:
                    continue
                stream = self._stream = self._new()
            data, self._input = self._input, b""
            decoded = (stream.decompress(data, len(buffer)) if hasattr(stream, "needs_input")
                       else stream.decompress(data))
            self._decoded, self._at = decoded, 0
            if stream.eof:
                self._input = stream.unused_data
        n = min(len(buffer), len(self._decoded) - self._at)
        buffer[:n] = memoryview(self._decoded)[self._at:self._at + n]
        self._at += n
        return n

    def close(self):
        self._fh.close()
        super().close()


COMPRESSIONS = {".gz": igzip.open, ".bz2": _bz2_open, ".xz": _xz_open, ".zst": _zstd_open}


# The formats convert reads, by extension (after a compression suffix).
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".svm": "libsvm", ".libsvm": "libsvm",
           ".svmlight": "libsvm", ".vw": "vw", ".npy": "npy"}


def format_of(path: str) -> str | None:
    """The format ``path``'s name says (csv, tsv, libsvm, vw, npy), or None."""
    return FORMATS.get(os.path.splitext(base_name(path))[1].lower())


def compression_of(path: str) -> str | None:
    """The compression suffix of ``path`` (``.gz``, ``.bz2``, ``.xz``, ``.zst``), or None."""
    ext = os.path.splitext(path)[1].lower()
    return ext if ext in COMPRESSIONS else None


def base_name(path: str) -> str:
    """``path`` without its compression suffix: the name the format comes from."""
    return os.path.splitext(path)[0] if compression_of(path) else path


def check_output_name(output: str, command: str = "convert", given: str = "-o ") -> None:
    """InputError for an output of ``command`` (``given`` as its option) named as text (``out.csv``,
    ``out.txt.gz``): convert and generate write HDF5 only, which predict and evaluate would otherwise be given
    under a text name."""
    base = base_name(output)
    said = "text" if os.path.splitext(base)[1].lower() == ".txt" else _NAMED.get(format_of(output))
    if said is not None:
        raise InputError(f"{given}{output}: {command} writes HDF5 only, and this name says {said}; give the output a "
                         f"name ending in .h5 (such as {os.path.splitext(base)[0]}.h5)")


_NAMED = {"csv": "CSV text", "tsv": "TSV text", "libsvm": "LIBSVM text", "vw": "Vowpal Wabbit text",
          "npy": "a NumPy .npy file"}  # what the formats convert reads are (FORMATS)


def open_input(path: str, binary: bool = False, errors: str = "strict"):
    """``path`` for reading, as text (UTF-8 without its byte-order mark, newlines as written, for the csv
    module) or bytes."""
    suffix = compression_of(path)
    opener = COMPRESSIONS.get(suffix or "", open)
    fh = opener(path, "rb") if binary else opener(path, "rt", encoding="utf-8-sig", newline="", errors=errors)
    return _Decompressed(fh, path, suffix) if suffix else fh  # a BOM is not data


class _Decompressed:
    """A compressed stream whose decompressor's complaints (a truncated download, a file that is not what
    its suffix says) are InputErrors naming the file.  Unchecked, a truncated file's EOFError reached click,
    which took it for Ctrl-D: "aborted", exit 130; a file that is not gzip was an internal error."""

    def __init__(self, fh, path: str, suffix: str):
        self._fh, self._path, self._suffix = fh, path, suffix

    def _checked(self, fn, *args):
        try:
            return fn(*args)
        except (StopIteration, InputError, UnicodeDecodeError):  # the end of the lines; the readers' own
            raise
        except EOFError:  # (a file shorter than the header, whatever its bytes, ends so too)
            if not self._signed():
                raise InputError(f"{self._path}: not readable as {self._suffix} data (it does not begin with that "
                                 "compression's signature)") from None
            raise InputError(f"{self._path}: ends before its compressed data does (a truncated {self._suffix} "
                             "file?)") from None
        except OSError as exc:
            if exc.errno is not None:  # the disk, not the data
                raise
            raise InputError(f"{self._path}: not readable as {self._suffix} data ({first_line(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - each decompressor has error types of its own (IsalError,
            # LZMAError, ZstdError), none of them OSError: corrupt data
            raise InputError(f"{self._path}: not readable as {self._suffix} data ({first_line(exc)})") from None

    def _signed(self) -> bool:
        """Whether the file begins with its suffix's compression's signature (MAGIC), or with a part of it (a file
        cut inside its header); True where it cannot say."""
        try:
            with open(self._path, "rb") as fh:
                head = fh.read(16)
        except OSError:
            return True
        return any(suffix == self._suffix and (head.startswith(magic) or (head and magic.startswith(head)))
                   for magic, _, suffix, _ in MAGIC)

    def read(self, *args):
        return self._checked(self._fh.read, *args)

    def readinto(self, buffer):
        return self._checked(self._fh.readinto, buffer)

    def readline(self, *args):
        return self._checked(self._fh.readline, *args)

    def __iter__(self):
        return self

    def __next__(self):
        return self._checked(self._fh.__next__)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __getattr__(self, name):
        return getattr(self._fh, name)


# What compressed input starts with, the compression, its suffix, and what decompresses it in a pipe.
MAGIC = ((b"\x1f\x8b", "gzip", ".gz", "zcat"), (b"BZh", "bzip2", ".bz2", "bzcat"),
         (b"\xfd7zXZ\x00", "xz", ".xz", "xzcat"), (b"\x28\xb5\x2f\xfd", "Zstandard", ".zst", "zstdcat"))
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"  # at byte 0, or 512, 1024, ... after a user block
PACKED_SEARCH = 1 << 20  # of a compressed file, the signature is looked for before this offset (the bytes before
# an offset are decompressed to reach it: a user block this large is compressed HDF5's rarest case)


ZIP_SIGNATURE = b"PK\x03\x04"  # a zip archive's first bytes (a spreadsheet's or a portal's download of a CSV)


def refuse_zip(path: str, data: bytes, example: str = "data.csv") -> None:
    """InputError where the bytes ``data`` that ``path`` starts with are a zip archive's, which no reader of text
    reads (as text they were "not UTF-8", and the cure offered, iconv, garbled them), saying how to extract it:
    to ``example``."""
    if data.startswith(ZIP_SIGNATURE):
        raise _zip_refusal(path, example)


def _zip_refusal(path, example: str) -> InputError:
    """A zip archive, which no reader of text reads (``path`` a file of it, or a compressed file that holds it):
    how to extract its file to ``example``."""
    outer = _packed_as(path)
    if outer:
        return InputError(f"{path}: holds a zip archive inside its {outer[0]} compression, which sgdcli does not "
                          f"read: extract the file it holds first ({outer[1]} {path} > data.zip && unzip -p data.zip "
                          f"> {example})")
    shown = "ARCHIVE.zip" if path == "-" else path
    return InputError(f"{path}: is a zip archive, which sgdcli does not read: extract the file it holds first "
                      f"(unzip -p {shown} > {example})")


def compression_in(data: bytes) -> tuple[str, str, str] | None:
    """(compression, suffix, the tool that decompresses it) of the compressed bytes ``data`` starts with, or
    None (bzip2's "BZh" is text too: its block size and block magic must follow)."""
    for magic, name, suffix, tool in MAGIC:
        if data.startswith(magic) and (name != "bzip2" or data[3:10].startswith(b"1AY&SY", 1)):
            return name, suffix, tool
    return None


def compressed_unnamed(path: str) -> tuple[str, str, str] | None:
    """``compression_in`` of the first bytes of the file ``path``, where its name has no compression suffix
    (where it has one, it is read through its decompressor); None where it cannot be read."""
    if compression_of(path):
        return None
    try:
        with open(path, "rb") as fh:
            return compression_in(fh.read(16))
    except OSError:
        return None


def signed_hdf5(fh, size: int | None = None) -> bool:
    """Whether the binary input ``fh`` (read from its start) holds HDF5's signature where the HDF5 format puts
    a superblock, as the HDF5 library looks for it: at byte 0, or after a user block, at 512, 1024, 2048, ...
    (powers of two) before ``size``; None: before the input's end, which is read up to it (a compressed
    stream, decompressed as it is read)."""
    at, read = 0, 0
    while size is None or at + len(HDF5_SIGNATURE) <= size:
        if size is not None:
            fh.seek(at)
        else:  # a stream: read up to the offset (seeking a compressed file decompresses as much)
            while read < at:
                skipped = len(fh.read(min(at - read, 1 << 16)))
                if not skipped:
                    return False
                read += skipped
        found = fh.read(len(HDF5_SIGNATURE))
        if found == HDF5_SIGNATURE:
            return True
        if len(found) < len(HDF5_SIGNATURE):
            return False
        read += len(found)
        at = 512 if at == 0 else 2 * at
    return False


def is_hdf5(path: str) -> bool:
    """Whether the regular file ``path`` is an HDF5 file by its signature (``signed_hdf5``: at byte 0, where
    sgdcli's files and h5py's have it, or after a user block), or through its compression suffix, whatever
    its name says: convert's output written under a .csv name is HDF5."""
    if not os.path.isfile(path):  # a pipe is read once: never looked into here
        return False
    try:
        with open(path, "rb") as fh:
            if signed_hdf5(fh, os.fstat(fh.fileno()).st_size):
                return True
    except OSError:
        return False
    suffix = compression_of(path)
    return suffix is not None and holds_hdf5(path, suffix)


def holds_hdf5(path: str, suffix: str) -> bool:
    """Whether the compressed file ``path`` (compressed as ``suffix`` says) decompresses to an HDF5 file: its
    signature (``signed_hdf5``) before PACKED_SEARCH."""
    try:
        with COMPRESSIONS[suffix](path, "rb") as fh:
            return signed_hdf5(_Capped(fh, PACKED_SEARCH))
    except Exception:  # noqa: BLE001 - corrupt, cut short, or no zstandard package: not known to be HDF5
        return False


class _Capped:
    """The first ``limit`` bytes of a binary stream."""

    def __init__(self, fh, limit: int):
        self.fh, self.left = fh, limit

    def read(self, n: int) -> bytes:
        data = self.fh.read(min(n, self.left))
        self.left -= len(data)
        return data


def not_utf8(path, exc: UnicodeDecodeError) -> InputError:
    """Text that is not UTF-8: the bytes, not a line (the decoder reads ahead of the lines); UTF-16 (Excel's
    "Unicode Text") by its byte-order mark, which latin1 would misread; a compressed file that holds a zip
    archive or is compressed again (a download compressed twice), which iconv would garble."""
    start = bytes(exc.object[:16])
    if start[:2] not in UTF16_MARKS:
        with contextlib.suppress(OSError, TypeError, ValueError):
            with open_input(path, binary=True) as fh:
                start = fh.read(16)
    if start.startswith(ZIP_SIGNATURE):
        return _zip_refusal(path, f"data{os.path.splitext(base_name(str(path)))[1] or '.csv'}")
    twice = compressed_twice(path, start)
    if twice is not None:
        return twice
    if start[:2] in UTF16_MARKS:
        return InputError(f"{path}: UTF-16 text (it begins with UTF-16's byte-order mark), not UTF-8; convert it "
                          "to UTF-8 first: iconv -f utf-16 -t utf-8")
    return InputError(f"{path}: not UTF-8 text (bytes {exc.object[exc.start:exc.end]!r}: {exc.reason}); convert "
                      "it to UTF-8 first, e.g. iconv -f latin1 -t utf-8")


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def compressed_twice(path, data: bytes) -> InputError | None:
    """The refusal of a compressed file whose decompressed bytes ``data`` (its start) are compressed again (a
    download compressed twice), saying how to decompress it once; None for any other."""
    outer, inner = _packed_as(path), compression_in(data)
    if outer is None or inner is None:
        return None
    root, ext = os.path.splitext(base_name(str(path)))  # to a name of its own: zcat a.csv.gz > a.csv.gz empties it
    return InputError(f"{path}: holds {inner[0]} data inside its {outer[0]} compression (compressed twice): "
                      f"decompress it once first ({outer[1]} {path} > {root}-once{ext}{inner[1]})")


def _packed_as(path) -> tuple[str, str] | None:
    """(compression, the tool that decompresses it into a pipe) of ``path`` by its suffix (gzip, zcat for .gz);
    None for a name without one."""
    return next(((name, tool) for _, name, suffix, tool in MAGIC if suffix == compression_of(str(path))), None)
