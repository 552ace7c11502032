"""The most frequent values of a column, counted in bounded memory: `convert --categorical`'s first pass.

An id-like column (a user id, an order number) has as many distinct values
as rows, and an exact count of each held them all: 230 bytes a value, 1.9 GB
for a CSV of 232 MB.  ``FrequentValues`` counts exactly while it holds at most
``capacity`` distinct values, and past that prunes its table as Misra and
Gries's summary does ("Finding repeated elements", 1982): every count drops
by the count of the value ranked ``capacity // 2 + 1``, and the values at 0
or below go.  Whatever the stream, then:

- a count held is at most ``lost`` (the drops summed) below the value's true
  count, and never above it;
- a value not held occurred at most ``lost`` times.

So the values chosen are surely the most frequent where the last one chosen
was counted more than ``lost`` plus the next one's count; ``top`` says whether
they are.  A column of fewer distinct values than ``capacity`` is counted
exactly, as before there was a bound.
"""

from __future__ import annotations

import collections

import numpy as np

# Distinct values counted at once, over all the --categorical columns of a conversion: tens of MB of Python
# strings and counts, whatever the file's size.
COUNTED_VALUES = 1 << 18


class FrequentValues:
    """Counts of a stream's values, exact up to ``capacity`` distinct ones, a Misra-Gries summary past it."""

    def __init__(self, capacity: int):
        self.capacity = max(2, capacity)
        self.counts: collections.Counter = collections.Counter()
        self.lost = 0  # what a held count may lack, and what a value no longer held may have had

    def update(self, values) -> None:
        self.counts.update(values)
        if len(self.counts) > self.capacity:
            self._prune()

    def _prune(self) -> None:
        """Every count less the one ranked ``capacity // 2 + 1``: half the table, or fewer (ties), stays."""
        counts = np.fromiter(self.counts.values(), dtype=np.int64, count=len(self.counts))
        rank = len(counts) - self.capacity // 2 - 1  # ascending: the (capacity // 2 + 1)-th largest
        drop = int(np.partition(counts, rank)[rank])
        self.lost += drop
        self.counts = collections.Counter({v: c - drop for v, c in self.counts.items() if c > drop})

    def top(self, k: int) -> tuple[list, bool]:
        """The ``k`` values counted most (ties by value), and whether they are surely the ``k`` most frequent."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        chosen = [v for v, _ in ranked[:k]]
        if not self.lost:
            return chosen, True
        if len(ranked) < k:  # (values pruned away may have had as many as the last one chosen)
            return chosen, False
        rival = max(self.lost, ranked[k][1] + self.lost if len(ranked) > k else 0)
        return chosen, ranked[k - 1][1] > rival
