"""`make bench`: sgdcli against the memory-bandwidth limit and against its peers.

Every timed case runs once per round, rounds interleaved (A B C ... A B C ...),
and the table shows the median over the rounds with min and max. Ratios are
taken against the raw read passes measured in the same run. Raw figures go to
bench/results/ as JSON with the machine's CPU model and core count.

    python bench/run.py [--quick] [--rounds N] [--skip-large]
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numba
import numpy as np
from numba import prange

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
import peers  # noqa: E402

from sgdcli import evaluate, train  # noqa: E402
from sgdcli.kernels.intrinsics import AHEAD, prefetch_row  # noqa: E402
from sgdcli.options import TrainOptions  # noqa: E402
from sgdcli.data.shuffle import pages_for  # noqa: E402
from sgdcli.data.table import Table  # noqa: E402

LR = 0.01
# What the speed rows measure, as they have since issue 4 and as the peers run: plain SGD at a constant rate on
# raw features (the defaults until issue 16; bench/defaults.py measures today's).
PLAIN = {"optimizer": "sgd", "schedule": "constant", "standardize": False}
BLOCK_BYTES = 64 * 2**20
MEMORY_BUDGET = 256 * 2**20
ALL = os.cpu_count() or 1
HERE = os.path.dirname(os.path.abspath(__file__))


# --- the limit: reading X as fast as the machine can ------------------------------------------

def _memmap_x(path: str) -> np.ndarray:
    with h5py.File(path) as f:
        ds = f["X"]
        offset, shape, dtype = ds.id.get_offset(), ds.shape, ds.dtype
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def read_single(path: str) -> dict:
    X = _memmap_x(path)
    step = BLOCK_BYTES // (X.shape[1] * 4)
    t0 = time.perf_counter()
    total = 0.0
    for s in range(0, X.shape[0], step):
        total += float(np.asarray(X[s : s + step]).sum())
    return {"seconds": time.perf_counter() - t0, "rows": X.shape[0], "check": total}


@numba.njit(parallel=True, nogil=True, fastmath=True)
def _parallel_sum(X):
    """Sum of X, one contiguous row range per thread.

    fastmath lets the sum reassociate and vectorize; in strict order each
    thread is bound by the latency of its floating-point adds (20M rows/s on
    2 threads here, against 34M rows/s with fastmath) and the limit would be
    understated.
    """
    n = X.shape[0]
    parts = numba.get_num_threads()
    acc = np.zeros(parts)
    for p in prange(parts):
        s = 0.0
        for i in range(p * n // parts, (p + 1) * n // parts):
            for j in range(X.shape[1]):
                s += X[i, j]
        acc[p] = s
    return acc.sum()


def read_parallel(path: str) -> dict:
    X = np.asarray(_memmap_x(path))
    step = BLOCK_BYTES // (X.shape[1] * 4)
    t0 = time.perf_counter()
    total = 0.0
    for s in range(0, X.shape[0], step):
        total += _parallel_sum(X[s : s + step])
    return {"seconds": time.perf_counter() - t0, "rows": X.shape[0], "check": total}


@numba.njit(parallel=True, nogil=True, fastmath=True)
def _parallel_sum_rows(X, order):
    """Sum of the rows ``order`` of X, visited in that order, one contiguous part of it per thread.

    Prefetched ahead like the training kernels, so this is what the memory
    delivers to a row-shuffled pass with no arithmetic at all.
    """
    n = order.shape[0]
    parts = numba.get_num_threads()
    acc = np.zeros(parts)
    for p in prange(parts):
        lo, hi = p * n // parts, (p + 1) * n // parts
        s = 0.0
        for r in range(lo, hi):
            if r + AHEAD < hi:
                prefetch_row(X, order[r + AHEAD])
            i = order[r]
            for j in range(X.shape[1]):
                s += X[i, j]
        acc[p] = s
    return acc.sum()


def read_shuffled(path: str, threads: int, orders: list[np.ndarray]) -> dict:
    """A read pass in the visiting order of an epoch of sgdcli's page shuffle (window by window)."""
    X = np.asarray(_memmap_x(path))
    numba.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        total = 0.0
        for order in orders:
            total += _parallel_sum_rows(X, order)
        return {"seconds": time.perf_counter() - t0, "rows": X.shape[0], "check": total}
    finally:
        numba.set_num_threads(ALL)


def page_orders(path: str) -> list[np.ndarray]:
    """The rows of each window of the first epoch of sgdcli's page shuffle (batch 256) under MEMORY_BUDGET, in order."""
    with Table(path) as table:
        pages = table.page_shuffle(MEMORY_BUDGET, pages_for(256), 0, True)
    order = pages.extent_order(0)
    return [pages.visit(0, w, ext)[0] for w, ext in enumerate(pages.windows(order))]


def read_h5py(path: str) -> dict:
    """Plain h5py block reads on one thread (what a user's own loop would get from a gzip file)."""
    t0 = time.perf_counter()
    rows = 0
    with h5py.File(path) as f:
        X = f["X"]
        step = BLOCK_BYTES // (X.shape[1] * 4) // 8192 * 8192
        for s in range(0, X.shape[0], step):
            rows += len(X[s : s + step])
    return {"seconds": time.perf_counter() - t0, "rows": rows}


# --- sgdcli -------------------------------------------------------------------------------------

def _threads(threads: int | None) -> str:
    return "default" if threads is None else f"{threads} thread(s)"


def sgdcli_epoch(path: str, test: str, batch: int, threads: int | None, parallel: str = "batch",
                 scaling: str = TrainOptions().lr_scaling) -> dict:
    model = train(path, TrainOptions(model="logistic", epochs=1, batch_size=batch, threads=threads, lr=LR,
                                     memory=MEMORY_BUDGET, parallel=parallel, lr_scaling=scaling, **PLAIN))
    record = model.history[0]
    return {"seconds": record["seconds"], "rows": record["rows"], "log_loss": evaluate(model, test)["log_loss"]}


def drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


def convert_csv(path: str, engine: str, tmp: str) -> dict:
    """``sgdcli convert`` of a CSV with one reader, in-process (the reading, not the start-up)."""
    from sgdcli import convert

    out = os.path.join(tmp, f"converted-{engine}.h5")
    t0 = time.perf_counter()
    result = convert(path, out, engine=engine)
    seconds = time.perf_counter() - t0
    os.remove(out)
    return {"seconds": seconds, "rows": result.rows}


# --- whole processes ------------------------------------------------------------------------------

def _timed(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def startup_cases(tmp: str) -> dict:
    from sgdcli import generate

    tiny = os.path.join(tmp, "tiny.h5")
    generate(tiny, rows=1000, features=10)
    exe = [sys.executable, "-m", "sgdcli"]
    cold = lambda: {**os.environ, "NUMBA_CACHE_DIR": tempfile.mkdtemp(dir=tmp)}  # noqa: E731
    subprocess.run([*exe, "train", tiny, "-o", os.path.join(tmp, "w.h5"), "-q"], check=True, capture_output=True)  # warm the cache
    return {
        "sgdcli --help": lambda: {"seconds": _timed([*exe, "--help"])},
        "tiny train, warm cache": lambda: {"seconds": _timed([*exe, "train", tiny, "-o", os.path.join(tmp, "w.h5"), "-q"])},
        "tiny train, empty cache": lambda: {"seconds": _timed([*exe, "train", tiny, "-o", os.path.join(tmp, "c.h5"), "-q"], cold())},
    }


# The start of a `python -c` program that samples its peak anonymous memory into peak[0].
RSS_SAMPLER = """
import sys, threading, time
peak = [0]
def sample():
    while True:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    peak[0] = max(peak[0], int(line.split()[1]) * 1024)
        time.sleep(0.01)
threading.Thread(target=sample, daemon=True).start()
"""

RSS_PROBE = RSS_SAMPLER + """
from sgdcli import train
from sgdcli.options import TrainOptions
train(sys.argv[1], TrainOptions(epochs=1, batch_size=256, lr=0.01, memory=int(sys.argv[2]), optimizer="sgd",
                                schedule="constant", standardize=False))
time.sleep(0.05)
print(peak[0])
"""


def peak_rss_anon(path: str) -> int:
    out = subprocess.run([sys.executable, "-c", RSS_PROBE, path, str(MEMORY_BUDGET)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1])


# --- the run ----------------------------------------------------------------------------------------

def summarize(samples: list[dict]) -> dict:
    secs = [s["seconds"] for s in samples]
    out = {"median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs), "runs": len(secs)}
    if "rows" in samples[0]:
        out["rows"] = samples[0]["rows"]
        out["rows_per_s"] = out["rows"] / out["median_s"]
    losses = [s["log_loss"] for s in samples if "log_loss" in s]
    if losses:
        out["log_loss"] = statistics.median(losses)
    return out


def interleave(cases: dict, rounds: int) -> dict:
    samples = {name: [] for name in cases}
    for r in range(rounds):
        for name, fn in cases.items():
            samples[name].append(fn())
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return {name: summarize(s) for name, s in samples.items()}


def save_record(kind: str, quick: bool, **fields) -> str:
    """Write a bench script's figures to bench/results/<date>[-quick]-<kind>.json, with the date and the CPU."""
    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(),
              "quick": quick, **fields}
    path = os.path.join(HERE, "results", f"{record['date'].replace(':', '')}{'-quick' if quick else ''}-{kind}.json")
    with open(path, "w") as fh:
        json.dump(record, fh, indent=2)
    return path


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x less data, for development")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (at least 5 for the report)")
    ap.add_argument("--skip-large", action="store_true", help="skip the memory check on the 8x file")
    args = ap.parse_args(argv)

    paths = datasets.datasets(args.quick)
    c, test = paths["contiguous"], paths["test"]
    _parallel_sum(np.asarray(_memmap_x(c))[:8])  # compile for the memmap's (read-only) type before timing
    orders = page_orders(c)
    _parallel_sum_rows(np.asarray(_memmap_x(c)), np.arange(8))
    cases = {
        "read pass, 1 thread": lambda: read_single(c),
        f"read pass, {ALL} threads": lambda: read_parallel(c),
        "read pass, shuffled rows, 1 thread": lambda: read_shuffled(c, 1, orders),  # the page shuffle's order
        f"read pass, shuffled rows, {ALL} threads": lambda: read_shuffled(c, ALL, orders),
        "h5py block reads of the gzip file, 1 thread": lambda: read_h5py(paths["gzip"]),
    }
    # "default": --threads and --parallel left to sgdcli (the targets' rows); "N thread(s)": --threads N
    for batch in (1, 32, 256, 4096):
        for threads in (1, ALL, None):
            cases[f"sgdcli batch {batch}, {_threads(threads)}"] = lambda b=batch, t=threads: sgdcli_epoch(c, test, b, t)
    for layout in ("chunked", "gzip"):
        for threads in (1, None):
            cases[f"sgdcli batch 256 {layout}, {_threads(threads)}"] = lambda p=paths[layout], t=threads: sgdcli_epoch(p, test, 256, t)
    for batch in (32, 256, 4096):  # each thread its own share, models averaged (--parallel average)
        cases[f"sgdcli batch {batch}, {ALL} threads, average"] = lambda b=batch: sgdcli_epoch(c, test, b, ALL, "average")
    # averaging N models makes about the progress of batch N·B: by default the rate grows N-fold; here it does not
    cases[f"sgdcli batch 256, {ALL} threads, average, unscaled"] = lambda: sgdcli_epoch(c, test, 256, ALL, "average",
                                                                                       scaling="none")
    cases[f"sgdcli batch 256 chunked, {ALL} threads, average"] = lambda: sgdcli_epoch(paths["chunked"], test, 256, ALL,
                                                                                      "average")
    notes = []
    if peers.sklearn_epoch(test, test, LR) is not None:
        cases["scikit-learn partial_fit"] = lambda: peers.sklearn_epoch(c, test, LR)
    else:
        notes.append("scikit-learn is not installed: its row is missing")
    if peers.torch_epoch(test, test, LR) is not None:
        cases["PyTorch batch 256"] = lambda: peers.torch_epoch(c, test, LR)
    else:
        notes.append("PyTorch is not installed: its row is missing (make bench installs the pinned CPU build where it can)")

    results = interleave(cases, args.rounds)

    if drop_page_cache():
        def cold(fn):
            def run():
                drop_page_cache()
                return fn()
            return run
        results.update(interleave({
            "cold read pass, 1 thread": cold(lambda: read_single(c)),
            "cold sgdcli batch 256, default": cold(lambda: sgdcli_epoch(c, test, 256, None)),
        }, args.rounds))
    else:
        notes.append("cold cache skipped: cannot drop the page cache (needs root)")

    with tempfile.TemporaryDirectory() as tmp:
        results.update(interleave(startup_cases(tmp), args.rounds))
        csv_path = datasets.csv_of(test, datasets.QUICK_TEST_ROWS if args.quick else 100_000)
        readers = {"convert CSV, tokenizer": lambda: convert_csv(csv_path, "python", tmp)}
        try:
            importlib.import_module("pyarrow.csv")  # imported to learn whether it can be

            readers["convert CSV, pyarrow reader"] = lambda: convert_csv(csv_path, "pyarrow", tmp)
        except ImportError:
            notes.append("pyarrow is not installed: the convert comparison has only the tokenizer")
        results.update(interleave(readers, args.rounds))

    memory = {"budget": MEMORY_BUDGET, "main": peak_rss_anon(c)}
    if not args.skip_large:
        memory["8x"] = peak_rss_anon(datasets.datasets(args.quick, scale=8)["contiguous"])
    else:
        notes.append("memory on the 8x file skipped (--skip-large)")

    table = render(results, memory, notes)
    print(table)
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": ALL, "quick": args.quick, "rounds": args.rounds,
        "versions": {"numba": numba.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "results": results, "memory": memory, "notes": notes, "table": table,
    }
    name = f"{record['date'].replace(':', '')}{'-quick' if args.quick else ''}.json"
    with open(os.path.join(HERE, "results", name), "w") as fh:
        json.dump(record, fh, indent=2)
    return 0


def targets(r: dict, memory: dict) -> dict:
    """Each target of issues 4 and 15 as (measured ratio or value, bound, holds)."""
    def rate(name):
        return r[name]["rows_per_s"] if name in r else None

    read1 = rate("read pass, 1 thread")
    out = {}

    def check(row, value, bound, smaller_is_better=True):
        if value is None:
            return
        holds = value <= bound if smaller_is_better else value >= bound
        out[row] = (value, bound, holds, smaller_is_better)

    for batch, bound in ((256, 1.5), (32, 2.0), (1, 3.0)):
        check(f"sgdcli batch {batch}, default", read1 / rate(f"sgdcli batch {batch}, default"), bound)
    best = "sgdcli batch 256, default"
    check("sgdcli batch 256 chunked, default", rate(best) / rate("sgdcli batch 256 chunked, default"), 1.3)
    check("sgdcli batch 256 gzip, default",
          rate("sgdcli batch 256 gzip, default") / rate("h5py block reads of the gzip file, 1 thread"), 1.7,
          smaller_is_better=False)
    for peer, bound in (("scikit-learn partial_fit", 15.0), ("PyTorch batch 256", 25.0)):
        if peer in r:  # as fast as promised, at an equal or better test loss
            value = rate(best) / rate(peer)
            out[peer] = (value, bound, value >= bound and r[best]["log_loss"] <= r[peer]["log_loss"], False)
    if "cold sgdcli batch 256, default" in r:
        check("cold sgdcli batch 256, default",
              rate("cold read pass, 1 thread") / rate("cold sgdcli batch 256, default"), 1.2)
    if "convert CSV, pyarrow reader" in r:  # --engine auto takes the tokenizer: it must be the faster
        ratio = rate("convert CSV, tokenizer") / rate("convert CSV, pyarrow reader")
        out["convert CSV, tokenizer / pyarrow"] = (ratio, 1.0, ratio >= 1.0, False)
    for name, bound in (("sgdcli --help", 0.3), ("tiny train, warm cache", 1.0), ("tiny train, empty cache", 5.0)):
        check(name, r[name]["median_s"], bound)
    for key in ("main", "8x"):
        if key in memory:
            check(f"peak RssAnon ({key} file) MB", memory[key] / 2**20, (memory["budget"] + 150 * 2**20) / 2**20)
    return out


def render(r: dict, memory: dict, notes: list[str]) -> str:
    t = targets(r, memory)
    read1 = r["read pass, 1 thread"]["rows_per_s"]
    shuffled = {n: r[f"read pass, shuffled rows, {n} thread{'s' if n > 1 else ''}"]["rows_per_s"] for n in {1, ALL}}
    lines = [f"{'case':<46} {'rows/s':>10} {'median s':>9} {'min s':>8} {'max s':>8} {'x read1':>8} {'x shuf':>7} "
             f"{'log loss':>9}  target"]
    for name, s in r.items():
        rps = f"{s['rows_per_s'] / 1e6:8.2f}M" if "rows_per_s" in s else ""
        ratio = f"{read1 / s['rows_per_s']:8.2f}" if "rows_per_s" in s else ""
        threads = ALL if f"{ALL} thread" in name else 1
        shuf = f"{shuffled[threads] / s['rows_per_s']:7.2f}" if name.startswith("sgdcli") and "rows_per_s" in s else ""
        loss = f"{s['log_loss']:9.4f}" if "log_loss" in s else ""
        target = ""
        if name in t:
            value, bound, holds, smaller = t[name]
            target = f"{value:.2f} {'<=' if smaller else '>='} {bound:g}: {'holds' if holds else 'MISSED'}"
        lines.append(f"{name:<46} {rps:>10} {s['median_s']:9.3f} {s['min_s']:8.3f} {s['max_s']:8.3f} {ratio:>8} {shuf:>7} "
                     f"{loss:>9}  {target}")
    for key in ("main", "8x"):
        name = f"peak RssAnon ({key} file) MB"
        if name in t:
            value, bound, holds, _ = t[name]
            lines.append(f"{name:<46} {value:10.0f}  budget {memory['budget'] / 2**20:.0f} MB + 150: {'holds' if holds else 'MISSED'}")
    for name, (value, bound, holds, smaller) in t.items():  # targets on a ratio of two rows, not on one row
        if name not in r and not name.startswith("peak RssAnon"):
            lines.append(f"{name:<46} {'':>10} {'':>9} {'':>8} {'':>8} {'':>8} {'':>7} {'':>9}  "
                         f"{value:.2f} {'<=' if smaller else '>='} {bound:g}: {'holds' if holds else 'MISSED'}")
    for name in (f"sgdcli batch 256, {ALL} threads, average", f"sgdcli batch 256, {ALL} threads, average, unscaled"):
        for peer in ("scikit-learn partial_fit", "PyTorch batch 256"):
            if name in r and peer in r:
                lines.append(f"{name[7:]} against {peer}: {r[name]['rows_per_s'] / r[peer]['rows_per_s']:.1f}x its rows/s, "
                             f"log loss {r[name]['log_loss']:.4f} against {r[peer]['log_loss']:.4f}")
    lines.append("x read1: the single-thread read pass's rows/s over the case's; x shuf: the rows/s of a read pass in "
                 "the page shuffle's order (same thread count; 1 for default) over the case's, the limit for a "
                 "shuffled epoch; default: sgdcli's --threads and --parallel")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
