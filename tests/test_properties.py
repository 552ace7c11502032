"""Property-based tests: invariants that must hold for any sizes and orders."""

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from sgdcli.data import shuffle
from sgdcli.kernels import batches
from sgdcli.kernels import state as ks
from sgdcli.kernels.state import Scratch, TrainState
from sgdcli.options import TrainOptions, parse_batch_size, parse_size
from sgdcli.kernels.state import kernel_config

import naive

SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(n=st.integers(1, 120), batch=st.integers(1, 130), cuts=st.lists(st.integers(0, 120), max_size=6),
       parts=st.sampled_from([1, 2, 3]), seed=st.integers(0, 2**31))
def test_any_block_split_gives_the_same_updates_as_the_reference(n, batch, cuts, parts, seed):
    """Whatever the block boundaries and thread count, an epoch is ceil(n/B) reference updates."""
    batch = min(batch, n)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = rng.integers(0, 2, n).astype(float)
    order = rng.permutation(n).astype(np.int64)
    cfg = kernel_config(TrainOptions(lr=0.3), batch, parts, math.ceil(n / batch), par_min_rows=1)
    state = TrainState.zeros(1, 3)
    buf = Scratch.make(parts, 1, 3)
    bounds = [0, *sorted(c for c in cuts if c < n), n]
    for lo, hi in zip(bounds, bounds[1:]):
        assert batches.train_block(cfg, X, y, order[lo:hi], np.zeros(3), np.ones(3), state, buf) == ks.OK
    if state.counters[ks.FILL]:
        assert batches.finish_batch(cfg, state, buf, np.zeros(3), np.ones(3))
    assert state.counters[ks.T] == math.ceil(n / batch)
    assert state.sums[ks.EPOCH_ROWS] == n
    expected = naive.minibatch_sgd("logistic", X, y, order, batch, 0.3)
    np.testing.assert_allclose(state.W, expected, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(n_blocks=st.integers(1, 50), seed=st.integers(0, 2**63 - 1), epoch=st.integers(0, 1000))
def test_block_order_is_a_permutation(n_blocks, seed, epoch):
    order = shuffle.block_order(n_blocks, seed, epoch)
    assert sorted(order) == list(range(n_blocks))
    np.testing.assert_array_equal(order, shuffle.block_order(n_blocks, seed, epoch))


@SETTINGS
@given(rows=st.lists(st.integers(0, 10**6), max_size=300, unique=True), seed=st.integers(0, 2**63 - 1),
       epoch=st.integers(0, 1000), block=st.integers(0, 10**4))
def test_row_order_is_a_reproducible_permutation(rows, seed, epoch, block):
    rows = np.array(rows, dtype=np.int64)
    order = shuffle.row_order(rows, seed, epoch, block)
    np.testing.assert_array_equal(np.sort(order), np.sort(rows))
    np.testing.assert_array_equal(order, shuffle.row_order(rows, seed, epoch, block))
    if len(rows) >= 20:  # another epoch, another order (a clash has probability 1/20!)
        assert not np.array_equal(order, shuffle.row_order(rows, seed, epoch + 1, block))


def test_row_order_is_uniform():
    """Every row lands in every position equally often: a chi-square test over 12,000 draws.

    With 6 rows there are 36 (row, position) cells of 2,000 expected counts each;
    the statistic has about 25 degrees of freedom, so 60 is beyond its 0.9999 quantile.
    """
    rows = np.arange(6, dtype=np.int64)
    counts = np.zeros((6, 6))
    for block in range(12000):
        counts[shuffle.row_order(rows, 7, 0, block), np.arange(6)] += 1
    expected = 12000 / 6
    assert ((counts - expected) ** 2 / expected).sum() < 60


@SETTINGS
@given(start=st.integers(0, 10**12), n=st.integers(0, 2000), fraction=st.floats(0, 0.99), seed=st.integers(0, 2**63 - 1))
def test_validation_mask_is_local_and_deterministic(start, n, fraction, seed):
    mask = shuffle.validation_mask(start, start + n, fraction, seed)
    assert mask.shape == (n,)
    if n > 1:
        half = n // 2
        np.testing.assert_array_equal(
            mask, np.concatenate([shuffle.validation_mask(start, start + half, fraction, seed),
                                  shuffle.validation_mask(start + half, start + n, fraction, seed)]))
    if fraction == 0:
        assert not mask.any()


@given(st.integers(1, 10**6))
def test_batch_size_text_round_trips(b):
    assert parse_batch_size(str(b)) == b
    assert parse_batch_size("full") is None


@given(st.integers(0, 10**4), st.sampled_from(["", "K", "M", "G", "KiB", "MiB", "GB"]))
def test_sizes_parse_in_binary_units(n, unit):
    scale = {"": 1, "K": 1024, "M": 2**20, "G": 2**30, "KiB": 1024, "MiB": 2**20, "GB": 2**30}[unit]
    assert parse_size(f"{n}{unit}") == n * scale
