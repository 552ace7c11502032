"""The most frequent values of a column counted in bounded memory (data/frequent.py), against exact counts."""

import collections

import numpy as np
import pytest

from sgdcli.data.frequent import FrequentValues


def _stream(seed: int, rows: int, distinct: int, skew: float) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"v{k}" for k in rng.zipf(skew, rows) % distinct]


def _fed(values: list[str], capacity: int, block: int = 97) -> FrequentValues:
    counter, held = FrequentValues(capacity), 0
    for a in range(0, len(values), block):
        counter.update(values[a:a + block])
        held = max(held, len(counter.counts))
    assert held <= capacity  # the bound, after every block
    return counter


def test_under_its_capacity_it_counts_exactly_and_ranks_ties_by_value():
    values = _stream(0, 5000, 300, 1.3)
    counter = _fed(values, capacity=1000)
    exact = sorted(collections.Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
    assert counter.lost == 0 and counter.counts == collections.Counter(values)
    assert counter.top(20) == ([v for v, _ in exact[:20]], True)


@pytest.mark.parametrize("seed,capacity,skew", [(1, 64, 1.2), (2, 64, 1.6), (3, 200, 1.1), (4, 32, 2.0),
                                                (5, 500, 1.05)])
def test_past_its_capacity_every_count_is_within_what_was_lost(seed, capacity, skew):
    values = _stream(seed, 20_000, 5000, skew)
    counter = _fed(values, capacity)
    true = collections.Counter(values)
    assert counter.lost > 0  # (the cases prune)
    for value, count in true.items():
        held = counter.counts.get(value)
        if held is None:
            assert count <= counter.lost, value
        else:
            assert held <= count <= held + counter.lost, value


def test_values_said_to_be_the_most_frequent_are():
    """Over streams of every skew, a choice said sure is the exact one; where the margin is too thin to tell
    (flat streams, a small table), it is said unsure."""
    said = collections.Counter()
    for seed in range(40):
        skew, capacity = 1.05 + (seed % 8) * 0.15, (16, 64, 256)[seed % 3]
        values = _stream(seed, 5000, 2000, skew)
        chosen, surely = _fed(values, capacity).top(5)
        ranked = sorted(collections.Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
        if surely:
            assert set(chosen) == {v for v, _ in ranked[:5]}, seed
        said[surely] += 1
    assert said[True] >= 10 and said[False] >= 5, said  # (both answers are reached)


def test_a_stream_of_distinct_values_and_a_few_frequent_ones_finds_the_frequent_ones_surely():
    """An id-like column with a few values that recur: the frequent ones stand far above what pruning lost."""
    rng = np.random.default_rng(8)
    values = [f"id{i}" for i in range(50_000)] + ["a"] * 3000 + ["b"] * 2000 + ["c"] * 1000
    values = [values[i] for i in rng.permutation(len(values))]
    counter = _fed(values, capacity=1000)
    assert counter.lost > 0 and counter.top(3) == (["a", "b", "c"], True)
    assert counter.top(4)[1] is False  # the fourth is one id among 50,000 of count 1: not told apart


def test_a_value_pruned_down_early_is_not_outranked_surely_by_one_that_came_late():
    """x (30 times) comes first and loses a count to each pruning of the ids that follow; y (25 times) comes
    last and loses none: y is counted more, and the choice of y must be said unsure, for x is the more frequent."""
    values = ["x"] * 30 + [f"id{i}" for i in range(100)] + ["y"] * 25
    counter = _fed(values, capacity=8, block=1)
    assert counter.counts["y"] > counter.counts["x"] and counter.lost > 5
    assert counter.top(1) == (["y"], False)
    assert counter.top(2) == (["y", "x"], True)  # the two together stand above every id, whatever was lost


def test_the_guide_states_the_bound_the_code_has():
    import os

    from conftest import ROOT
    from sgdcli.data.frequent import COUNTED_VALUES

    with open(os.path.join(ROOT, "docs", "data.md"), encoding="utf-8") as f:
        assert f"up to\n  {COUNTED_VALUES:,} distinct values" in f.read()
