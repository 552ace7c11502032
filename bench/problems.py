"""Pieces of the benchmarks' synthetic problems that several scripts share (class_weight.py, large_l2.py)."""

from __future__ import annotations

import numpy as np


def bias_for(score: np.ndarray, share: float) -> float:
    """The bias at which logistic labels of ``score`` plus it are positive ``share`` of the rows on average: the
    mean probability rises with the bias, so bisection finds it (within [-30, 30], far beyond any share a
    benchmark asks for; 64 halvings leave less than the float64 spacing of such a bias)."""
    lo, hi = -30.0, 30.0
    for _ in range(64):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(1 / (1 + np.exp(-(score + mid)))) < share else (lo, mid)
    return (lo + hi) / 2


def seeds_from_args(doc: str, default: int = 2) -> int:
    """The ``--seeds N`` of a benchmark whose docstring is ``doc`` (its first line, the description), with the
    runs' warnings silenced: a benchmark reports what it measures, not what each run would be told."""
    import argparse
    import warnings

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=default)
    seeds = parser.parse_args().seeds
    warnings.simplefilter("ignore")
    return seeds
