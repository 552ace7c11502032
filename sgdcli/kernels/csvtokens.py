"""CSV records (RFC 4180) split and their numbers read in one compiled pass over the bytes.

``tokenize`` reads whole records from a buffer of UTF-8 bytes: fields separated by the delimiter,
records by LF or CRLF, a field in double quotes holding delimiters, line breaks and doubled quotes.
Each field of a column that is wanted (``slots[c] >= 0``) is read as a number (kernels/decimal.py) into
its slot; where it is not one, its byte span is kept for Python (text, a missing-value marker, a number
of more than 19 digits).  Text after a quoted field's closing quote is part of the field (``"1"5`` is 15, as
pandas reads it).  A record that the buffer does not end is left for the next buffer, unless the
buffer is the input's last.
"""

from __future__ import annotations

import numba
from numba import prange

from sgdcli.kernels.decimal import EXACT, POWERS, parse, scan
from sgdcli.kernels.jit import kernel

NUMBER, EMPTY, TEXT, QUOTED_TEXT = 0, 1, 2, 3  # a field's status; QUOTED_TEXT: a quoted field with doubled quotes
# or text after its closing quote, whose span is the field as written, from its opening quote
OK, SHORT, UNTERMINATED = 0, 1, 2  # how a call ended: every record read, a record of another field count,
# a quote that the input's end left open
_LF, _CR, _QUOTE = 10, 13, 34


@kernel(exact=True)
def tokenize(buf, pos, end, last, delimiter, decimal, thousands, slots, values, status, spans, lines, line):
    """Read records from buf[pos:end] into rows 0, 1, ... of ``values``/``status``/``spans`` (slots as
    columns), at most their row count; ``lines[r]``: the line record r starts on (``line``: the next
    one's).  Returns (records read, position after them, the next line, how it ended, and the field count
    of the record that ended it where SHORT: that record is passed over, and its line is in
    ``lines[records read]``)."""
    ncols = slots.shape[0]
    rows = 0
    while rows < values.shape[0] and pos < end:
        if buf[pos] == _LF or (buf[pos] == _CR and pos + 1 < end and buf[pos + 1] == _LF):  # a blank line
            pos += 1 if buf[pos] == _LF else 2
            line += 1
            continue
        start, start_line = pos, line
        c = 0
        complete = False
        while True:
            quoted = pos < end and buf[pos] == _QUOTE
            escaped = False
            if quoted:
                a = pos + 1
                q = a
                closed = False
                while q < end:
                    if buf[q] == _QUOTE:
                        if q + 1 < end and buf[q + 1] == _QUOTE:
                            escaped = True
                            q += 2
                            continue
                        if q + 1 == end and not last:
                            break  # the next buffer may hold a second quote
                        closed = True
                        break
                    if buf[q] == _LF or (buf[q] == _CR and not (q + 1 < end and buf[q + 1] == _LF)):
                        line += 1  # (a bare CR ends a line too)
                    q += 1
                if not closed:
                    if last:
                        return rows, start, start_line, UNTERMINATED, c
                    pos, line = start, start_line
                    break  # the record goes on in the next buffer
                b = q
                pos = q + 1
                while pos < end and buf[pos] != delimiter and buf[pos] != _LF and buf[pos] != _CR:
                    pos += 1  # text after the closing quote belongs to the field, as pandas and the csv module read it
                escaped = escaped or pos > q + 1
            elif c < ncols and slots[c] >= 0:  # a number, read as the field is found
                s = slots[c]
                a = pos
                values[rows, s], status[rows, s], pos = scan(buf, a, end, delimiter, decimal, thousands, POWERS,
                                                             EXACT)
                spans[rows, s, 0] = a
                spans[rows, s, 1] = pos
            else:
                while pos < end and buf[pos] != delimiter and buf[pos] != _LF and buf[pos] != _CR:
                    pos += 1
            if quoted and c < ncols and slots[c] >= 0:
                s = slots[c]
                if escaped:  # the field as written, quotes and all: Python reads it (csvbytes.unquoted)
                    spans[rows, s, 0] = a - 1
                    spans[rows, s, 1] = pos
                    status[rows, s] = QUOTED_TEXT
                else:
                    spans[rows, s, 0] = a
                    spans[rows, s, 1] = b
                    values[rows, s], status[rows, s] = parse(buf, a, b, decimal, thousands, POWERS, EXACT)
            c += 1
            if pos < end and buf[pos] == delimiter:
                pos += 1
                if pos == end and not last:
                    pos, line = start, start_line
                    break
                continue
            if pos < end and buf[pos] == _CR:
                pos += 1
            if pos < end and buf[pos] == _LF:
                pos += 1
                line += 1
                complete = True
            elif pos >= end and last:
                complete = True
            elif pos >= end:
                pos, line = start, start_line
            else:  # a lone CR ends the record, as the csv module reads it, and its line
                line += 1
                complete = True
            break
        if not complete:
            break
        if c == 1 and ncols > 1 and _blank(buf, start, pos):  # a line of spaces or tabs alone: blank, as pandas
            # reads it (in a file of one column, a field: a missing value, whose row predict owes a prediction)
            continue
        if c != ncols:  # rows[rows] names its line; the position and line returned are past it
            lines[rows] = start_line
            return rows, pos, line, SHORT, c
        lines[rows] = start_line
        rows += 1
    return rows, pos, line, OK, ncols


@kernel(callee=True)
def _blank(buf, a, b):
    """Whether buf[a:b] holds nothing but spaces, tabs and line ends."""
    for k in range(a, b):
        if buf[k] != 32 and buf[k] != 9 and buf[k] != _CR and buf[k] != _LF:
            return False
    return True


@kernel(parallel=True, exact=True)
def tokenize_parts(buf, bounds, last, delimiter, decimal, thousands, slots, values, status, spans, lines, found):
    """``tokenize`` of the parts buf[bounds[p]:bounds[p + 1]] at once, one a thread, into values[p], status[p],
    spans[p] and lines[p] (lines counted from 0); found[p] = (records, position, lines, how it ended).  Every
    part but the last ends at a line end and holds no quote, so each starts a record."""
    parts = bounds.shape[0] - 1
    for p in prange(parts):
        n, pos, line, how, _ = tokenize(buf, bounds[p], bounds[p + 1], last or p < parts - 1, delimiter, decimal,
                                        thousands, slots, values[p], status[p], spans[p], lines[p], 0)
        found[p, 0] = n
        found[p, 1] = pos
        found[p, 2] = line
        found[p, 3] = how


def parts() -> int:
    """How many parts ``tokenize_parts`` takes at once: Numba's threads."""
    return max(1, numba.get_num_threads())
