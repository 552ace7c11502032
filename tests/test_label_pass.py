"""The label pass's tally of a classifier's labels (model/labels.py ``collect``): each block's labels matched in
one compiled pass against the values found before (the first block's, against those of its first SEED_ROWS
labels), and sorted where one is new.  Whatever order the values come in, what it finds is what sorting all the
trained labels finds (computed here): the values, the rows with each, their weights' sums."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sgdcli.errors import InputError
from sgdcli.model import labels as labels_mod

WHERE = "rows.h5:y"


def _blocks(labels, cuts, kept, weights):
    """(first row, labels, rows trained or None, weights or None) of the blocks ``labels`` is cut into."""
    edges = [0, *sorted(cuts), len(labels)]
    for a, b in zip(edges, edges[1:]):
        rows = None if kept is None else np.flatnonzero(kept[a:b])
        yield a, labels[a:b], rows, None if weights is None else weights[a:b]


def _reference(labels, kept, weights):
    trained = labels if kept is None else labels[kept]
    values, at, counts = np.unique(trained, return_inverse=True, return_counts=True)
    sums = None if weights is None else np.bincount(at, weights=(weights if kept is None else weights[kept]),
                                                    minlength=len(values))
    return values, counts, sums


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_tally_finds_what_sorting_every_trained_label_finds(data):
    n = data.draw(st.integers(0, 3000))
    classes = data.draw(st.lists(st.sampled_from([-2.5, -0.0, 0.0, 1.0, 3.0, 7.0, 1e9]), min_size=1, max_size=7))
    at = data.draw(st.lists(st.integers(0, len(classes) - 1), min_size=n, max_size=n))
    labels = np.array([classes[i] for i in at], dtype=np.float64)
    cuts = data.draw(st.lists(st.integers(0, n), max_size=4))
    kept = data.draw(st.none() | st.just(np.random.default_rng(n).random(n) < 0.7))
    weights = data.draw(st.none() | st.just(np.random.default_rng(n + 1).random(n)))
    found = labels_mod.collect(_blocks(labels, cuts, kept, weights), "softmax", WHERE, weighted=weights is not None)
    values, counts, sums = _reference(labels, kept, weights)
    np.testing.assert_array_equal(found.values, values)
    np.testing.assert_array_equal(found.counts, counts)
    if weights is not None:
        np.testing.assert_allclose(found.weight_sums, sums, rtol=1e-12)


def test_values_new_after_the_first_rows_and_in_later_blocks_are_found():
    """The first SEED_ROWS labels all 0: the 1 after them is found by sorting the block; a 2 in the last row of a
    later block, the same."""
    labels = np.zeros(3 * labels_mod.SEED_ROWS)
    labels[labels_mod.SEED_ROWS + 5] = 1.0
    labels[-1] = 2.0
    found = labels_mod.collect(_blocks(labels, [2 * labels_mod.SEED_ROWS], None, None), "softmax", WHERE)
    np.testing.assert_array_equal(found.values, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(found.counts, [len(labels) - 2, 1, 1])


def test_too_many_classes_are_still_refused():
    labels = np.arange(labels_mod.MAX_CLASSES + 1, dtype=np.float64)
    with pytest.raises(InputError, match=f"{WHERE}: more than {labels_mod.MAX_CLASSES} distinct labels"):
        labels_mod.collect(_blocks(labels, [], None, None), "softmax", WHERE)
