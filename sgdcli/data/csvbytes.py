"""CSV/TSV read as bytes by the compiled tokenizer (kernels/csvtokens.py): the plain reader's fast path.

The input (compressed or not) is read in chunks of ``CHUNK_BYTES``; each call of the tokenizer splits the
whole records of the buffer and reads the numbers of the columns the encoding uses, and only the fields
that are not plain numbers (text, missing values, numbers of more than 19 digits) go through Python.  A
block of rows then goes through the same decoding as the csv module's rows (data/csvdecode.py).
"""

from __future__ import annotations

import numpy as np

from sgdcli.data import csvdecode
from sgdcli.data.csvcolumns import Encoding
from sgdcli.data.rowblocks import BadRow, stop
from sgdcli.data.textfiles import not_utf8, open_input
from sgdcli.data.valuerange import ValueRange
from sgdcli.errors import InputError
from sgdcli.kernels.csvtokens import (EMPTY, NUMBER, OK, QUOTED_TEXT, SHORT, UNTERMINATED, parts, tokenize,
                                      tokenize_parts)

PARALLEL_BYTES = 64 << 10  # a buffer at least this long, without a quote, is tokenized in parts on all threads
CHUNK_BYTES = 1 << 20  # read at a time: the buffer and its remainder stay small (memory stays flat)
BLOCK_BYTES = 8 << 20  # a block's tokens at most (a value, a status and a span per field read): memory stays flat
BYTES_PER_FIELD = 8 + 1 + 16
BOM = b"\xef\xbb\xbf"


class TokenFields:
    """A block of records as the tokenizer read them: the columns ``slot`` maps to slots, with their
    values, statuses and byte spans in ``buf``."""

    def __init__(self, buf: np.ndarray, slot: dict[int, int], values, status, spans, lines, rows: int):
        self.buf, self.slot, self.rows = buf, slot, rows
        self.values, self.status, self.spans, self.lines = values[:rows], status[:rows], spans[:rows], lines[:rows]

    def __len__(self) -> int:
        return self.rows

    def line(self, i: int) -> int:
        return int(self.lines[i])

    def _text(self, i: int, s: int) -> str:
        a, b = self.spans[i, s]
        text = bytes(self.buf[a:b]).decode("utf-8")
        return unquoted(text) if self.status[i, s] == QUOTED_TEXT else text

    def texts(self, c: int) -> list[str]:
        s = self.slot[c]
        return [self._text(i, s) for i in range(self.rows)]

    def numbers(self, c: int, reader):
        """As ``csvdecode``'s reader reads them: (values, missing mask, not-a-number mask)."""
        values, missing, bad = self.numbers_of([c], reader)
        return values[:, 0], missing[:, 0], bad[:, 0]

    def numbers_of(self, columns: list[int], reader):
        """``numbers`` of several columns, as rows × columns arrays: the tokenizer's values, and Python's
        reading of the fields that were not plain numbers."""
        slots = [self.slot[c] for c in columns]
        if slots and slots == list(range(slots[0], slots[0] + len(slots))):  # a run of slots: slices
            values = self.values[:, slots[0]:slots[0] + len(slots)].copy()
            irregular = self.status[:, slots[0]:slots[0] + len(slots)] != NUMBER
        else:  # (take: rows in C order, as the writer wants them; indexing with a list gives Fortran order)
            values = self.values.take(slots, axis=1)
            irregular = self.status.take(slots, axis=1) != NUMBER
        missing = np.zeros(values.shape, dtype=bool)
        bad = np.zeros(values.shape, dtype=bool)
        if irregular.any():
            for i, j in zip(*np.nonzero(irregular)):
                s = slots[j]
                text = "" if self.status[i, s] == EMPTY else self._text(i, s)
                value = reader.number(text)
                if value is None:
                    missing[i, j] = reader.is_missing(text)
                    bad[i, j] = not missing[i, j]
                    values[i, j] = 0.0
                else:
                    values[i, j] = value
        if len(reader.na_numbers):  # the tokenizer read -999 as the number it is
            sentinel = reader.sentinels(values) & ~irregular
            missing |= sentinel
            values[sentinel] = 0.0
        return values, missing, bad


def unquoted(raw: str) -> str:
    """A quoted field as written (``"a""b"c``) as pandas' and the csv module's readers read it: the text inside
    the quotes with each doubled quote one, then whatever follows the closing quote (``a"bc``)."""
    close = 1
    while True:
        close = raw.find('"', close)
        if close < 0 or raw[close + 1:close + 2] != '"':
            break
        close += 2
    if close < 0:  # (the tokenizer passes only closed fields)
        return raw[1:].replace('""', '"')
    return raw[1:close].replace('""', '"') + raw[close + 1:]


def _byte(text: str | None, option: str) -> int:
    if text is None:
        return 0
    data = text.encode("utf-8")
    if len(data) != 1:
        raise InputError(f"{option}: {text!r} is not a single-byte character, which the fast reader needs")
    return data[0]


def token_blocks(path: str, ncols: int, header: bool, enc: Encoding, block_rows: int, bad_rows: str, fh=None,
                 data: bytes = b"", line: int = 1, refuse=stop, kept: ValueRange | None = None, judged=None):
    """Blocks (X, y, skipped, weights) of ``path`` (``ncols`` columns, the first record a header where
    ``header``), as ``csvtext.csv_blocks`` yields them from the csv module's rows.  ``fh``: the input already
    open (binary; standard input), ``data`` its bytes already read, from line ``line``; ``refuse(path, bad)``
    raises the error of a row that stops the reading; ``kept``: the feature values kept, ``judged``: the labels
    refused (csvdecode.decode)."""
    if fh is None:
        with open_input(path, binary=True) as opened:
            yield from token_blocks(path, ncols, header, enc, block_rows, bad_rows, opened, data, line, refuse,
                                    kept, judged)
        return
    used = sorted({f.column for f in enc.features} | {c for c in (enc.label, enc.weight) if c is not None})
    slot = {c: s for s, c in enumerate(used)}
    slots = np.full(ncols, -1, dtype=np.int64)
    for c, s in slot.items():
        slots[c] = s
    rows = max(1, min(block_rows, BLOCK_BYTES // (BYTES_PER_FIELD * max(len(used), 1))))
    values = np.empty((rows, len(used)))
    status = np.empty((rows, len(used)), dtype=np.int8)
    spans = np.empty((rows, len(used), 2), dtype=np.int64)
    lines = np.empty(rows + 1, dtype=np.int64)
    delim, decimal, thousands = (_byte(enc.delimiter, "--delimiter"), _byte(enc.decimal, "--decimal"),
                                 _byte(enc.thousands, "--thousands"))
    skip_header = header
    threads = parts()
    shape = (threads if threads > 1 else 0,) + values.shape  # the parts' tokens (none on one thread)
    pvalues, pstatus = np.empty(shape), np.empty(shape, dtype=np.int8)
    pspans, plines = np.empty(shape + (2,), dtype=np.int64), np.empty((shape[0], rows + 1), dtype=np.int64)
    found = np.zeros((threads, 4), dtype=np.int64)
    last, skipped = False, 0
    while True:
        if not last:
            more = fh.read(CHUNK_BYTES)
            last = not more
            data += more
            if line == 1 and data.startswith(BOM):
                data = data[len(BOM):]
        buf = np.frombuffer(data, dtype=np.uint8)
        pos = 0
        while True:
            if skip_header:  # its fields are not read: a record of no columns
                n, pos, line, how, fields = tokenize(buf, pos, len(buf), last, delim, decimal, thousands,
                                                     np.full(ncols, -1, dtype=np.int64), values[:1],
                                                     status[:1], spans[:1], lines, line)
                if n == 0 and how == 0:
                    break  # the header goes on in the next chunk
                skip_header = False
                continue
            bounds = _parts(data, pos, threads) if threads > 1 and not skip_header else None
            if bounds is not None:  # a quote-free stretch: its parts at once, each from a line start
                tokenize_parts(buf, bounds, last, delim, decimal, thousands, slots, pvalues, pstatus, pspans,
                               plines, found)
                k = len(bounds) - 1
                whole = (found[:-1, 1] == bounds[1:-1]).all()  # every part but the last read to its end
                if whole and (found[:, 3] == OK).all() and (found[:, 0] < rows).all():
                    for p in range(k):
                        plines[p, :found[p, 0]] += line
                        line += found[p, 2]
                        if found[p, 0]:
                            X, y, dropped, w = _decode(path, enc, bad_rows, refuse, kept, judged, TokenFields(
                                buf, slot, pvalues[p], pstatus[p], pspans[p], plines[p], found[p, 0]))
                            yield X, y, skipped + dropped, w
                            skipped = 0
                    pos = int(found[k - 1, 1])
                    n = 0
                    break  # the rest of the buffer waits for more bytes
            n, pos, line, how, fields = tokenize(buf, pos, len(buf), last, delim, decimal, thousands, slots,
                                                 values, status, spans, lines, line)
            if n:
                X, y, dropped, w = _decode(path, enc, bad_rows, refuse, kept, judged,
                                           TokenFields(buf, slot, values, status, spans, lines, n))
                yield X, y, skipped + dropped, w
                skipped = 0
            if how == SHORT:
                bad = BadRow(f"line {int(lines[n])}", f"{fields} fields, expected {ncols}")
                if bad_rows == "error":
                    refuse(path, bad)
                skipped += 1
                continue
            if how == UNTERMINATED:
                raise InputError(f"{path}: line {line}: a quoted field is not closed before the end of the input")
            if n < len(values):
                break  # the buffer holds no more whole records
        data = data[pos:]
        if last and not data:
            break
        if last and pos == 0 and n == 0:
            raise InputError(f"{path}: line {line}: cannot split the last record")
    if skipped:
        yield np.zeros((0, enc.width)), np.zeros(0), skipped, None


def _decode(path: str, enc: Encoding, bad_rows: str, refuse, kept: ValueRange | None, judged,
            fields: TokenFields):
    try:
        return csvdecode.decode(fields, enc, bad_rows, path, kept, judged)
    except BadRow as bad:
        refuse(path, bad)
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None


def _parts(data: bytes, pos: int, threads: int) -> np.ndarray | None:
    """Where to cut data[pos:] into ``threads`` parts that each start a record: after a line end, in a stretch
    without a quote (where a line end always ends a record); None where the stretch is short or has a quote."""
    size = len(data) - pos
    if size < PARALLEL_BYTES or data.find(b'"', pos) >= 0:
        return None
    bounds = [pos]
    for p in range(1, threads):
        newline = data.find(b"\n", pos + p * size // threads)
        if newline < 0 or newline + 1 <= bounds[-1]:
            return None
        bounds.append(newline + 1)
    bounds.append(len(data))
    return np.array(bounds, dtype=np.int64)
