"""``exp`` and ``log1p`` as straight-line arithmetic, for the logistic loss.

The logistic loss of a row needs ``e = exp(−|z|)``, a division and
``log1p(e)``.  Through the C library each is a call that LLVM cannot see
into: the calls of one row wait on each other, a loop that calls stays
scalar (the pip builds of llvmlite have no vector math library, SVML, and
LLVM's glibc mapping did nothing under Numba), and the loss was half of the
dense kernel's time a row (bench/epoch_parts.py).  Written here as a range
reduction and a polynomial, with no calls and no branches, the code inlines
into the kernel: the losses of the four rows that ``batches`` scores
together overlap in the CPU, and a long loop of them compiles to vector
instructions.

Accuracy, against NumPy's (tests/test_vecmath.py): ``exp_nonpositive`` within
1 unit in the last place, ``log1p_unit`` within 2.  Both are compiled with
``kernel(vector=True)`` (jit.py says why: without it the rounding step of
the range reduction is optimized away), and every kernel that takes the
logistic loss (batches, pure SGD, sparse) inlines the same code, so every
path computes the same loss.
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.intrinsics import as_double, bits_of
from sgdcli.kernels.jit import kernel

_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
# ln 2 in two parts, the first with its low 28 bits zero, so k·_LN2_HI is exact for |k| < 2²⁵
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_ROUND = 6755399441055744.0  # 1.5·2⁵²: x + _ROUND rounds x to an integer, held in the low bits
_LOWEST = -708.0  # exp(−708) ≈ 3.3e-308 is the last power that stays a normal double
_SQRT2_M1 = 0.41421356237309503  # √2 − 1: the point where log1p_unit halves 1 + e
_EXPONENT = np.uint64(1023)
_MANTISSA_BITS = np.uint64(52)


@kernel(callee=True, vector=True)
def exp_nonpositive(x):
    """e^x for x ≤ 0; NaN for NaN.  Below −708 it gives e^−708 (3.3e-308) rather than a subnormal or zero:
    where the logistic loss uses it, a difference of under 1e-307."""
    x = max(x, _LOWEST)
    shifted = x * _LOG2E + _ROUND  # k = round(x / ln 2), in the low bits of shifted
    k = shifted - _ROUND
    r = (x - k * _LN2_HI) - k * _LN2_LO  # |r| ≤ ln 2 / 2
    # e^r by its Taylor series to r¹³: the first term left out is under 2⁻⁵³ of the sum
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # 2^k from k's bits: the exponent field alone, k + 1023, shifted into place (the high bits fall off)
    return p * as_double((bits_of(shifted) + _EXPONENT) << _MANTISSA_BITS)


@kernel(callee=True, vector=True)
def log1p_unit(e):
    """ln(1 + e) for 0 ≤ e ≤ 1, accurate for the smallest e too; NaN for NaN.

    ln(1 + e) = 2·atanh(s) with s = e / (2 + e).  Above √2 − 1 it takes
    ln 2 + ln((1 + e) / 2) instead, s = (e − 1) / (e + 3), so that |s| stays
    under 0.172 and eleven terms of atanh's series reach full precision.  The
    halving is arithmetic on a 0/1 value, not a branch.
    """
    half = np.float64(e > _SQRT2_M1)
    s = (e - half) / (e + 2.0 + half)
    s2 = s * s
    q = 1.0 / 21.0
    q = q * s2 + 1.0 / 19.0
    q = q * s2 + 1.0 / 17.0
    q = q * s2 + 1.0 / 15.0
    q = q * s2 + 1.0 / 13.0
    q = q * s2 + 1.0 / 11.0
    q = q * s2 + 1.0 / 9.0
    q = q * s2 + 1.0 / 7.0
    q = q * s2 + 1.0 / 5.0
    q = q * s2 + 1.0 / 3.0
    return _LN2 * half + (2.0 * s + 2.0 * s * (q * s2))
