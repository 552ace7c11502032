"""Where a training epoch's time goes: the parts of the dense kernel's row loop, each alone, side by side.

Rows of 100 float32 features in memory (1,000,000; 200,000 with --quick), visited in file order on one
thread, as ``_accumulate_one`` (kernels/batches.py) visits them: two rows at a time, one pass over the
weights scoring both, one pass adding both to the gradient.  Each case adds one part to the one before:

- the read pass: the rows summed, the fastest any epoch can go (the issue 15 targets are ratios to it);
- score + gradient in float64 (the kernels' arithmetic), then the same in float32 (what float32 weights
  would save);
- the float64 loop with the logistic loss and its derivative one row at a time through the C library's
  ``exp`` and ``log1p`` (scalar calls), as the kernel did before kernels/vecmath.py;
- the loop ``sgdcli train --model logistic`` runs now (``batches._accumulate_logistic``, written out here
  as the others are, without the row offsets, prefetch and checks of the kernel): four rows scored in one
  pass over the weights, their losses taken together with sgdcli's own inlined exp and log1p
  (``losses.logistic_rows``, kernels/vecmath.py), then one pass adding the four to the gradient.

Prints nanoseconds a row and the ratio to the read pass for each (median of the rounds, interleaved);
raw figures go to bench/results/<date>-epoch-parts.json.

    python bench/epoch_parts.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numba
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import interleave, save_record  # noqa: E402

from sgdcli.kernels import losses  # noqa: E402
from sgdcli.kernels.jit import FASTMATH  # noqa: E402

FEATURES = 100


@numba.njit(fastmath=FASTMATH, nogil=True)
def read_pass(X):
    total = 0.0
    for i in range(X.shape[0]):
        total += X[i]
    return total


# Each case is a loop of its own, written out as the kernel's is: shared helpers compiled as calls change
# what LLVM makes of the loops (float32 measured 26 against 21 ns a row that way).
@numba.njit(fastmath=FASTMATH, nogil=True)
def score_and_gradient(X, d, w, grad):
    """Pairs of rows scored in one pass over ``w`` and added to ``grad`` in one pass, the derivative a
    stand-in as cheap as a multiplication."""
    total = 0.0
    small = w.dtype.type(1e-9)  # (a step's scale: the weights stay where they are)
    for r in range(0, X.shape[0] // d - 1, 2):
        x = X[r * d:(r + 1) * d]
        x2 = X[(r + 1) * d:(r + 2) * d]
        z = w[d]
        z2 = z
        for j in range(d):
            z += w[j] * x[j]
            z2 += w[j] * x2[j]
        total += z + z2
        dz, dz2 = z * small, z2 * small
        for j in range(d):
            grad[j] += dz * x[j] + dz2 * x2[j]
        grad[d] += dz + dz2
    return total


@numba.njit(fastmath=FASTMATH, nogil=True)
def _libm_logistic(z, target):
    e = math.exp(-abs(z))
    inv = 1.0 / (1.0 + e)
    p = inv if z >= 0 else e * inv
    return math.log1p(e) + max(z, 0.0) - target * z, p - target


@numba.njit(fastmath=FASTMATH, nogil=True)
def with_logistic_loss(X, d, w, grad, y):
    """``score_and_gradient`` with the logistic loss and its derivative of each row's score, through libm."""
    total = 0.0
    small = w.dtype.type(1e-9)
    for r in range(0, X.shape[0] // d - 1, 2):
        x = X[r * d:(r + 1) * d]
        x2 = X[(r + 1) * d:(r + 2) * d]
        z = w[d]
        z2 = z
        for j in range(d):
            z += w[j] * x[j]
            z2 += w[j] * x2[j]
        loss, dz = _libm_logistic(z, y[r])
        loss2, dz2 = _libm_logistic(z2, y[r + 1])
        total += loss + loss2
        dz, dz2 = dz * small, dz2 * small
        for j in range(d):
            grad[j] += dz * x[j] + dz2 * x2[j]
        grad[d] += dz + dz2
    return total


@numba.njit(fastmath=FASTMATH, nogil=True)
def four_rows_logistic(X, d, w, grad, y, objective, z):
    """Four rows scored together, their logistic losses taken together, then added to ``grad`` together."""
    total = 0.0
    for r in range(0, X.shape[0] // d - 3, 4):
        x0 = X[r * d:(r + 1) * d]
        x1 = X[(r + 1) * d:(r + 2) * d]
        x2 = X[(r + 2) * d:(r + 3) * d]
        x3 = X[(r + 3) * d:(r + 4) * d]
        s0 = w[d]
        s1 = s0
        s2 = s0
        s3 = s0
        for j in range(d):
            s0 += w[j] * x0[j]
            s1 += w[j] * x1[j]
            s2 += w[j] * x2[j]
            s3 += w[j] * x3[j]
        z[0] = s0
        z[1] = s1
        z[2] = s2
        z[3] = s3
        total += losses.logistic_rows(objective, z, y, None, r, 4)
        d0, d1, d2, d3 = z[0] * 1e-9, z[1] * 1e-9, z[2] * 1e-9, z[3] * 1e-9
        for j in range(d):
            grad[j] += (d0 * x0[j] + d1 * x1[j]) + (d2 * x2[j] + d3 * x3[j])
        grad[d] += (d0 + d1) + (d2 + d3)
    return total


def _timed(fn, rows: int) -> dict:
    t0 = time.perf_counter()
    fn()
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    rows = 200_000 if args.quick else 1_000_000
    rng = np.random.default_rng(0)
    X = rng.standard_normal(rows * FEATURES).astype(np.float32)
    y = (rng.random(rows) > 0.5).astype(np.float64)
    objective = losses.loss_of(("logistic", 0.0))
    w64 = rng.standard_normal(FEATURES + 1) * 0.01
    w32 = w64.astype(np.float32)
    cases = {
        "read pass": lambda: read_pass(X),
        "score + gradient, float64": lambda: score_and_gradient(X, FEATURES, w64, np.zeros(FEATURES + 1)),
        "score + gradient, float32": lambda: score_and_gradient(X, FEATURES, w32, np.zeros(FEATURES + 1, np.float32)),
        "float64 + logistic loss": lambda: with_logistic_loss(X, FEATURES, w64, np.zeros(FEATURES + 1), y),
        "logistic, four rows at once": lambda: four_rows_logistic(X, FEATURES, w64, np.zeros(FEATURES + 1), y,
                                                                 objective, np.zeros(4)),
    }
    for fn in cases.values():
        fn()  # compiled, and the rows in the caches as far as they fit
    result = interleave({case: lambda fn=fn: _timed(fn, rows) for case, fn in cases.items()}, args.rounds)
    ns = {case: r["median_s"] / rows * 1e9 for case, r in result.items()}
    print(f"{rows:,} rows x {FEATURES} float32 features in memory, file order, 1 thread (median of {args.rounds})")
    for case, value in ns.items():
        print(f"  {case:28s} {value:6.1f} ns a row  {value / ns['read pass']:5.2f}x the read pass")
    for case in ("float64 + logistic loss", "logistic, four rows at once"):
        share = 1 - ns["score + gradient, float64"] / ns[case]
        print(f"  the logistic loss's share of '{case}': {share:.0%}")
    print(f"  libm pairs / four rows at once: "
          f"{ns['float64 + logistic loss'] / ns['logistic, four rows at once']:.2f}x")
    print(f"\nraw figures: {save_record('epoch-parts', args.quick, rows=rows, features=FEATURES, cases=result)}")


if __name__ == "__main__":
    main()
