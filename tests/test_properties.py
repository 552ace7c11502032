"""Property-based tests: invariants that must hold for any sizes and orders."""

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from sgdcli.data import shuffle
from sgdcli.kernels import batches
from sgdcli.kernels.permute import fisher_yates
from sgdcli.kernels import state as ks
from sgdcli.kernels.state import Scratch, TrainState
from sgdcli.fieldtypes import parse_batch_size
from sgdcli.sizes import parse_size
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
    cfg = kernel_config(naive.options(lr=0.3), batch, parts, math.ceil(n / batch), par_min_rows=1)
    state = TrainState.zeros(1, 3)
    buf = Scratch.make(parts, 1, 3)
    bounds = [0, *sorted(c for c in cuts if c < n), n]
    for lo, hi in zip(bounds, bounds[1:]):
        assert batches.train_block(cfg, X, y[order[lo:hi]], order[lo:hi], np.zeros(3), np.ones(3), state, buf) == ks.OK
    if state.counters[ks.FILL]:
        assert batches.finish_batch(cfg, state, buf, np.zeros(3), np.ones(3),
                                    batches.partial_divisor(batch, int(state.counters[ks.FILL]), n > batch))
    assert state.counters[ks.T] == math.ceil(n / batch)
    assert state.sums[ks.EPOCH_ROWS] == n
    expected = naive.minibatch_sgd("logistic", X, y, order, batch, 0.3)
    np.testing.assert_allclose(state.W, expected, rtol=1e-9, atol=1e-12)


def _epoch(pages, epoch):
    """Every window of an epoch of ``pages``, in visiting order: (file rows, positions in the window)."""
    order = pages.extent_order(epoch)
    return [pages.visit(epoch, w, ext) for w, ext in enumerate(pages.windows(order))]


SHUFFLES = dict(n=st.integers(1, 3000), window=st.integers(1, 4000), unit=st.sampled_from([1, 7, 64, 500]),
                row_bytes=st.sampled_from([8, 400, 40000]), page=st.integers(1, 70), seed=st.integers(0, 2**63 - 1),
                epoch=st.integers(0, 1000), shuffled=st.booleans(), memory=st.sampled_from([1 << 10, 1 << 20]))


@SETTINGS
@given(**SHUFFLES)
def test_every_row_is_visited_once_per_epoch(n, window, unit, row_bytes, page, seed, epoch, shuffled, memory):
    pages = shuffle_plan(n, window, unit, row_bytes, page, seed, shuffled, memory)
    assert pages.extent_rows % unit == 0 and pages.window_rows <= max(window, unit)  # within the memory given
    visits = _epoch(pages, epoch)
    sizes = pages.window_sizes(pages.extent_order(epoch))
    assert [len(rows) for rows, _ in visits] == sizes
    rows = np.concatenate([rows for rows, _ in visits])
    np.testing.assert_array_equal(np.sort(rows), np.arange(n))
    if not shuffled:
        np.testing.assert_array_equal(rows, np.arange(n))  # --no-shuffle: file order
    for (rows, local), ext in zip(visits, pages.windows(pages.extent_order(epoch))):
        # a position in the window's extents laid end to end names the same row
        laid = np.concatenate([np.arange(e * pages.extent_rows, min((e + 1) * pages.extent_rows, n)) for e in ext])
        np.testing.assert_array_equal(laid[local], rows)
    again = _epoch(pages, epoch)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(visits, again))


@SETTINGS
@given(**SHUFFLES, val=st.floats(0, 0.9), shards=st.integers(1, 5))
def test_shards_and_held_out_rows_split_each_epoch_exactly(n, window, unit, row_bytes, page, seed, epoch, shuffled,
                                                            memory, val, shards):
    """What a shard trains (its segments of the windows' rows not held out, dealt as averaging.py deals them):
    every trained row once, and every share the same number of rows, ±1."""
    pages = shuffle_plan(n, window, unit, row_bytes, page, seed, shuffled, memory)
    visits = _epoch(pages, epoch)
    kept_rows = [rows[~shuffle.held_out(rows, val, seed)] for rows, _ in visits]
    per_extent = shuffle.kept_per_extent(pages, val, seed, step_rows=int(seed % 5000) + 1)
    sizes = [int(per_extent[extents].sum()) for extents in pages.windows(pages.extent_order(epoch))]
    assert sizes == [len(kept) for kept in kept_rows]
    trained, shares = [], []
    for share in shuffle.deal(np.arange(len(sizes)), sizes, shards):
        parts = [shuffle.segment_rows(kept_rows[w], lo, hi, sizes[w]) for w, lo, hi in share]
        trained += parts
        shares.append(sum(len(part) for part in parts))
    trained = np.concatenate(trained) if trained else np.zeros(0, dtype=np.int64)  # every row held out
    expected = np.flatnonzero(~shuffle.validation_mask(0, n, val, seed))
    np.testing.assert_array_equal(np.sort(trained), expected)
    assert max(shares) - min(shares) <= 1 and max(shares) == -(-len(expected) // shards)


@SETTINGS
@given(**SHUFFLES, heavy=st.integers(0, 2**32), shards=st.integers(1, 4))
def test_windows_cut_by_bytes_stay_within_the_budget_and_visit_every_row_once(n, window, unit, row_bytes, page,
                                                                              seed, epoch, shuffled, memory, heavy,
                                                                              shards):
    """Extents of different sizes (a CSR matrix's rows: data/csrblocks.py): windows end before the budget."""
    rng = np.random.default_rng(heavy)
    pages = shuffle_plan(n, window, unit, row_bytes, page, seed, shuffled, memory)
    costs = rng.integers(1, 100, pages.n_extents) * rng.choice([1, 1000], pages.n_extents, p=[0.9, 0.1])
    budget = int(costs.max()) * int(rng.integers(1, 6))
    pages = pages.with_costs(costs, budget)
    order = pages.extent_order(epoch)
    windows = pages.windows(order)
    assert all(costs[w].sum() <= budget and 0 < len(w) <= pages.window_extents for w in windows)
    np.testing.assert_array_equal(np.concatenate(windows), order)
    visits = _epoch(pages, epoch)
    sizes = pages.window_sizes(order)
    assert [len(rows) for rows, _ in visits] == sizes
    np.testing.assert_array_equal(np.sort(np.concatenate([rows for rows, _ in visits])), np.arange(n))
    shares = shuffle.deal(np.arange(len(sizes)), sizes, shards)
    trained = [shuffle.segment_rows(visits[w][0], lo, hi, sizes[w]) for share in shares for w, lo, hi in share]
    np.testing.assert_array_equal(np.sort(np.concatenate(trained)), np.arange(n))


def shuffle_plan(n, window, unit, row_bytes, page, seed, shuffle_, memory):
    return shuffle.PageShuffle.plan(n, max(window, unit), unit, row_bytes, page, seed, shuffle_, memory)


def _visit_reference(pages, epoch, w, extents):
    """A window's visiting order as data/shuffle.py describes it, written plainly: the page grid cuts the
    extents into pieces, the pieces are permuted, and each group of ``mix`` of them is read round-robin."""
    offset, pieces, at = pages.offset(epoch), [], 0
    for e in extents:
        lo, hi = e * pages.extent_rows, min((e + 1) * pages.extent_rows, pages.n_rows)
        s = lo
        while s < hi:
            end = min(s + pages.page_rows - (s - offset) % pages.page_rows, hi)
            pieces.append((s, at + s - lo, end - s))
            s = end
        at += hi - lo
    order = np.arange(len(pieces), dtype=np.int64)
    if pages.shuffle:
        fisher_yates(order, shuffle._state(pages.seed, epoch, 1, w))
    mix = pages.mix if pages.shuffle else 1
    rows, local = [], []
    for g in range(0, len(order), mix):
        group = [pieces[q] for q in order[g:g + mix]]
        for t in range(max(size for _, _, size in group)):
            for start, place, size in group:
                if t < size:
                    rows.append(start + t)
                    local.append(place + t)
    return np.array(rows, dtype=np.int64), np.array(local, dtype=np.int64)


@SETTINGS
@given(**SHUFFLES)
def test_the_compiled_visit_is_the_plain_one_into_fresh_or_reused_buffers(n, window, unit, row_bytes, page, seed,
                                                                         epoch, shuffled, memory):
    """The visiting order is part of every model's bits: the compiled one must be exactly the plain one, and
    the same when written into buffers that held another window before."""
    pages = shuffle_plan(n, window, unit, row_bytes, page, seed, shuffled, memory)
    windows = pages.windows(pages.extent_order(epoch))
    reused = tuple(np.full(pages.visit_rows, -1, dtype=np.int64) for _ in range(2))
    for w, ext in reversed(list(enumerate(windows))):  # the last window, often short, fills the buffers last
        expected = _visit_reference(pages, epoch, w, ext)
        for got in (pages.visit(epoch, w, ext), pages.visit(epoch, w, ext, reused)):
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])


def test_batches_change_from_epoch_to_epoch():
    """Neighbouring rows part in some epochs: the page grid moves every epoch.

    Rows of one page share a batch of 256 (16 pages) in that epoch; the grid
    parts a given pair with probability 1/16 an epoch, extent ends part more,
    so after 20 epochs at most (15/16)^20 ≈ 0.27 of the pairs have always
    shared a batch.  Rows of different pages meet again only by chance.
    """
    n, batch = 4096, 256
    pages = shuffle.PageShuffle.plan(n, 1024, 1, 400, 16, seed=3, shuffle=True, memory=1 << 20)
    together = np.ones(n - 1, dtype=bool)
    for epoch in range(20):
        rows = np.concatenate([rows for rows, _ in _epoch(pages, epoch)])
        batch_of = np.empty(n, dtype=np.int64)
        batch_of[rows] = np.arange(n) // batch
        together &= batch_of[:-1] == batch_of[1:]
    assert together.mean() < 0.27


def test_pieces_of_a_window_mix_many_places():
    """Each batch of 256 draws on 16 pages: 16 runs of consecutive rows, from as many places of the file."""
    pages = shuffle.PageShuffle.plan(100_000, 20_000, 1, 400, 16, seed=1, shuffle=True, memory=1 << 28)
    rows, _ = pages.visit(0, 0, pages.extent_order(0)[:pages.window_extents])
    for b in range(0, len(rows) - 256, 256):
        places = np.unique(rows[b:b + 256] // 16)
        assert len(places) >= 16


def test_fisher_yates_is_uniform():
    """Every element lands in every position equally often: a chi-square test over 12,000 draws.

    With 6 elements there are 36 (element, position) cells of 2,000 expected counts each;
    the statistic has about 25 degrees of freedom, so 60 is beyond its 0.9999 quantile.
    """
    counts = np.zeros((6, 6))
    for draw in range(12000):
        order = fisher_yates(np.arange(6, dtype=np.int64), shuffle._state(7, 0, draw))
        counts[order, np.arange(6)] += 1
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


@given(st.integers(0, 10**30), st.sampled_from(["", "K", "M", "G", "KiB", "MiB", "GB"]))
def test_sizes_parse_in_binary_units(n, unit):
    """Exactly, however many digits (read through a float, 999999999999999999999 was 1000000000000000000000,
    which the refusal of a --memory over the machine's then named)."""
    scale = {"": 1, "K": 1024, "M": 2**20, "G": 2**30, "KiB": 1024, "MiB": 2**20, "GB": 2**30}[unit]
    assert parse_size(f"{n}{unit}") == n * scale
