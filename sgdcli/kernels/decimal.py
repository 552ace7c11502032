"""Decimal text to float64, rounded correctly (as Python's ``float()``), compiled for the CSV reader.

A number of at most 19 significant digits is ``m · 10^e`` with m an unsigned 64-bit integer.  Where m <
2^53 and |e| <= 22 both are exact doubles and one multiplication or division rounds correctly (Clinger's
fast path).  Otherwise the Eisel–Lemire algorithm (Lemire, "Number parsing at a gigabyte per second",
2021; the form of Go's strconv) multiplies m by a 128-bit truncation of 10^e and rounds, and says when the
truncation leaves the rounding in doubt; the caller then hands the text to Python, as it does numbers of
more digits and anything else (inf, nan, hex).  Compiled without fast-math (``exact``): the rounding of
each operation is the point.  The helpers are inlined into the tokenizer (a call cost more than the work).
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.intrinsics import as_double, high_product, leading_zeros, load8, trailing_zeros
from sgdcli.kernels.jit import kernel

MIN_EXP10, MAX_EXP10 = -348, 347


def _powers() -> np.ndarray:
    """(hi, lo) 64-bit halves of the 128 leading bits of 10^e, rounded down, for e in [MIN_EXP10, MAX_EXP10]."""
    out = np.zeros((MAX_EXP10 - MIN_EXP10 + 1, 2), dtype=np.uint64)
    for i, e in enumerate(range(MIN_EXP10, MAX_EXP10 + 1)):
        if e >= 0:
            v = 10**e
            bits = v.bit_length()
            v = v >> (bits - 128) if bits > 128 else v << (128 - bits)
        else:
            d = 10**-e
            v = (1 << (d.bit_length() + 127)) // d
        out[i, 0], out[i, 1] = v >> 64, v & (2**64 - 1)
    return out


POWERS = _powers()
EXACT = np.array([10.0**k for k in range(23)])  # the powers of ten that are exact doubles
POWERS_OF_TEN = np.array([10**k for k in range(9)], dtype=np.uint64)
MANTISSA = np.uint64((1 << 52) - 1)  # a double's stored significand bits
LOW_NIBBLES, HIGH_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F), np.uint64(0xF0F0F0F0F0F0F0F0)
SIXES, THREES = np.uint64(0x0606060606060606), np.uint64(0x3333333333333333)


@kernel(callee=True, exact=True)
def _eisel_lemire(man, exp10, powers):
    """m · 10^e as a positive double, and whether it is certain (False: in doubt, or outside the normal
    range)."""
    if exp10 < MIN_EXP10 or exp10 > MAX_EXP10:
        return 0.0, False
    clz = leading_zeros(man)
    man = man << clz
    ret_exp2 = ((217706 * exp10) >> 16) + 64 + 1023 - np.int64(clz)  # signed here; checked before use
    hi_pow, lo_pow = powers[exp10 - MIN_EXP10, 0], powers[exp10 - MIN_EXP10, 1]
    x_hi, x_lo = high_product(man, hi_pow), man * hi_pow
    if (x_hi & np.uint64(0x1FF)) == np.uint64(0x1FF) and x_lo + man < man:  # the truncation may carry
        y_hi, y_lo = high_product(man, lo_pow), man * lo_pow
        merged_hi, merged_lo = x_hi, x_lo + y_hi
        if merged_lo < x_lo:
            merged_hi += np.uint64(1)
        if ((merged_hi & np.uint64(0x1FF)) == np.uint64(0x1FF) and merged_lo + np.uint64(1) == np.uint64(0)
                and y_lo + man < man):
            return 0.0, False
        x_hi, x_lo = merged_hi, merged_lo
    msb = x_hi >> np.uint64(63)
    mantissa = x_hi >> (msb + np.uint64(9))
    ret_exp2 -= 1 - int(msb)
    if x_lo == np.uint64(0) and (x_hi & np.uint64(0x1FF)) == np.uint64(0) and (mantissa & np.uint64(3)) == np.uint64(1):
        return 0.0, False  # exactly half-way: a digit beyond would decide
    mantissa += mantissa & np.uint64(1)
    mantissa >>= np.uint64(1)
    if (mantissa >> np.uint64(53)) > np.uint64(0):
        mantissa >>= np.uint64(1)
        ret_exp2 += 1
    if ret_exp2 < 1 or ret_exp2 >= 0x7FF:  # subnormal, or beyond the largest double
        return 0.0, False
    return as_double((mantissa & MANTISSA) | (np.uint64(ret_exp2) << np.uint64(52))), True


@kernel(callee=True, exact=True)
def to_double(man, exp10, negative, powers, exact):
    """m · 10^e (negated where ``negative``) and whether it is certain; m < 10^19."""
    if man == np.uint64(0):
        return -0.0 if negative else 0.0, True
    if man <= np.uint64(1 << 53) and -22 <= exp10 <= 22:
        value = float(man) * exact[exp10] if exp10 >= 0 else float(man) / exact[-exp10]
        return -value if negative else value, True
    value, ok = _eisel_lemire(man, exp10, powers)
    return (-value if negative else value), ok


@kernel(callee=True, exact=True)
def parse(buf, a, b, decimal, thousands, powers, exact):
    """The number in buf[a:b] (spaces around it allowed; the content of a quoted field): (value, status),
    status 0 for a number, 1 for an empty field, 2 for anything else (text, or a number this reader leaves
    to Python)."""
    value, status, stop = scan(buf, a, b, -1, decimal, thousands, powers, exact)
    return (value, status) if stop == b else (0.0, 2)  # a line break inside: text


@kernel(callee=True, exact=True)
def _digits(buf, i, end, man):
    """The run of decimal digits from buf[i] (before ``end``) appended to the significand ``man``:
    (significand, the run's end).  Up to 8 digits at a time without a branch on their count: one load, a
    mask of the bytes that are digits, those that begin the word shifted to its top (the zero bytes shifted
    in read as leading zeros) and combined in pairs, fours and eights by three multiplications.  More than
    19 digits overflow ``man``: the caller counts them."""
    while i + 8 <= end:
        word = load8(buf, i)
        # a zero byte for each digit (adding 6 carries only out of a byte that is no digit, into later bytes)
        other = ((word & HIGH_NIBBLES) | (((word + SIXES) & HIGH_NIBBLES) >> np.uint64(4))) ^ THREES
        n = np.int64(trailing_zeros(other) >> np.uint64(3))  # the digits that begin the word, 0 to 8
        if n == 0:
            return man, i
        word = word << np.uint64(64 - 8 * n)
        word = ((word & LOW_NIBBLES) * np.uint64(2561)) >> np.uint64(8)  # pairs of digits, then 4, then 8
        word = ((word & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
        man = man * POWERS_OF_TEN[n] + (((word & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001))
                                        >> np.uint64(32))
        i += n
        if n < 8:
            return man, i
    while i < end and 48 <= buf[i] <= 57:
        man = man * np.uint64(10) + np.uint64(buf[i] - 48)
        i += 1
    return man, i


@kernel(callee=True, exact=True)
def _grouped(buf, i, end, delimiter, thousands):
    """The integer part with thousands separators (a separator after a digit is passed over): (significand,
    digits, its end)."""
    man = np.uint64(0)
    digits = 0
    while i < end:
        c = buf[i]
        if 48 <= c <= 57:
            man = man * np.uint64(10) + np.uint64(c - 48)
            digits += 1
        elif not (c == thousands and digits > 0 and c != delimiter):  # (a quoted field may hold it)
            break
        i += 1
    return man, digits, i


@kernel(callee=True, exact=True)
def _leading_zero_digits(buf, a, b):
    """The zeros before the first other digit of buf[a:b] (a significand's digits, with its marks)."""
    zeros = 0
    for i in range(a, b):
        if 49 <= buf[i] <= 57:
            break
        if buf[i] == 48:
            zeros += 1
    return zeros


@kernel(callee=True, exact=True)
def scan(buf, a, end, delimiter, decimal, thousands, powers, exact):
    """``parse`` of the unquoted field that starts at ``a``, fused with finding its end (the next delimiter,
    CR or LF, or ``end``): (value, status, the field's end).  One pass over the bytes of a number."""
    i = a
    while i < end and ((buf[i] == 32 and delimiter != 32) or (buf[i] == 9 and delimiter != 9)):
        i += 1
    negative = False
    if i < end and (buf[i] == 45 or buf[i] == 43):
        negative = buf[i] == 45
        i += 1
    first = i
    if thousands == 0:
        man, i = _digits(buf, i, end, np.uint64(0))
        digits = i - first
    else:
        man, digits, i = _grouped(buf, i, end, delimiter, thousands)
    exp10 = 0
    if i < end and buf[i] == decimal and decimal != delimiter:
        i += 1
        fraction = i
        man, i = _digits(buf, i, end, man)
        exp10 = fraction - i
        digits += i - fraction
    seen = digits
    if digits > 19:  # leading zeros do not count; more significant digits are left to Python
        digits -= _leading_zero_digits(buf, first, i)
    long = digits > 19
    if seen > 0 and i < end and (buf[i] == 101 or buf[i] == 69):
        i += 1
        sign = 1
        if i < end and (buf[i] == 45 or buf[i] == 43):
            sign = -1 if buf[i] == 45 else 1
            i += 1
        e = 0
        start = i
        while i < end and 48 <= buf[i] <= 57:
            if e < 100000:
                e = e * 10 + (buf[i] - 48)
            i += 1
        if i == start:
            seen = 0  # "1e": not a number
        exp10 += sign * e
    while i < end and ((buf[i] == 32 and delimiter != 32) or (buf[i] == 9 and delimiter != 9)):
        i += 1
    if i == end or buf[i] == delimiter or buf[i] == 10 or buf[i] == 13:
        if i == a or (seen == 0 and i > a and _blank(buf, a, i)):
            return 0.0, 1, i
        if seen > 0 and not long:
            value, ok = to_double(man, exp10, negative, powers, exact)
            return value, 0 if ok else 2, i
        return 0.0, 2, i
    while i < end and buf[i] != delimiter and buf[i] != 10 and buf[i] != 13:
        i += 1
    return 0.0, 2, i


@kernel(callee=True)
def _blank(buf, a, b):
    for i in range(a, b):
        if buf[i] != 32 and buf[i] != 9:
            return False
    return True


@kernel(exact=True)
def parse_fields(buf, starts, ends, decimal, thousands, values, status):
    """``parse`` of each field buf[starts[i]:ends[i]] into values[i] and status[i]."""
    for i in range(starts.shape[0]):
        values[i], status[i] = parse(buf, starts[i], ends[i], decimal, thousands, POWERS, EXACT)
