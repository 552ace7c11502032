"""`make bench`, part 2: training on Dask distributed with 1 and 2 workers, on this machine.

Three ways to train the benchmark's main file at batch 256, interleaved over
rounds: one process without Dask, a LocalCluster of 1 worker and one of 2.
Each trains epoch by epoch against the test set until its test log loss is
at or below the target (what one epoch of the process without Dask reaches,
plus 0.001) or the epochs run out.  The table shows rows/s, time to the
target (training time, without the validation passes), rounds, and the
model-averaging overhead per round: the driver's wall time per round beyond
the slowest worker's time (Dask's scheduling, the transfers, the averaging).

A second table projects the cost per round to 8-64 workers from these
measurements: compute per round is the rows a worker trains per round over
one worker's rows/s; communication is the fixed cost and the per-worker cost
fitted to the 1- and 2-worker overheads, plus the model and optimizer state
sent to and from every worker over the driver's link.

    python bench/scaling.py [--quick] [--rounds N] [--epochs N]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import logging
import os
import statistics
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from run import HERE, PLAIN, cpu_model  # noqa: E402

from sgdcli import train  # noqa: E402
from sgdcli.daskoptions import DaskOptions  # noqa: E402
from sgdcli.parallel.averaging import DEFAULT_SYNC_ROWS  # noqa: E402
from sgdcli.options import TrainOptions  # noqa: E402
from sgdcli.data.table import Table  # noqa: E402

BATCH = 256
LR = 0.01
LINKS = {"1 Gb/s": 1.25e8, "10 Gb/s": 1.25e9}  # bytes per second of the driver's network link
PROJECTED = (8, 16, 32, 64)
# Dask's documentation: "each task suffers about 1ms of overhead" (distributed.dask.org).  Two
# workers on one machine cannot resolve a per-worker cost that small, so the projection charges
# each additional worker at least this much.
DOC_TASK_MS = 1.0


def train_until(path: str, test: str, target: float | None, epochs: int, dask: DaskOptions | None) -> dict:
    opts = TrainOptions(model="logistic", batch_size=BATCH, lr=LR, epochs=epochs, val=test,
                        early_stopping=False, **PLAIN)
    quiet = io.StringIO()
    with contextlib.redirect_stderr(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train(path, opts, dask=dask)
    seconds, reached = 0.0, None
    for record in model.history:
        seconds += record["seconds"]
        if target is not None and reached is None and record["val_loss"] <= target:
            reached = seconds
    later = model.history[1:] or model.history  # epoch 1 includes compiling on fresh workers
    return {
        "rows_per_s": statistics.median(r["rows_per_s"] for r in later),
        "to_target_s": reached,
        "val_loss": [r["val_loss"] for r in model.history],
        **{key: model.training.get("round_timings", {}).get(key) for key in ("rounds", "round_ms", "round_overhead_ms")},
        "sync_every": model.training.get("sync_every"),
    }


OVERHEAD_SYNC = 16  # steps per round in the overhead runs: many short rounds, so the median is steady


def overhead_run(path: str, workers: int) -> dict:
    """One epoch in many short rounds: the driver's cost per round beyond the slowest worker's."""
    opts = TrainOptions(model="logistic", batch_size=BATCH, lr=LR, epochs=1, sync_every=OVERHEAD_SYNC, **PLAIN)
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train(path, opts, dask=DaskOptions(f"local:{workers}"))
    t = model.training["round_timings"]
    return {"rounds": t["rounds"], "round_ms": t["round_ms"], "round_overhead_ms": t["round_overhead_ms"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x less data, for development")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--epochs", type=int, default=3, help="most epochs per run")
    args = ap.parse_args(argv)
    logging.getLogger("distributed").setLevel(logging.CRITICAL)

    paths = datasets.datasets(args.quick)
    path, test = paths["contiguous"], paths["test"]
    first = train_until(path, test, None, 1, None)
    target = first["val_loss"][0] + 0.001
    cases = {
        "one process, no Dask": None,
        "Dask, 1 worker": DaskOptions("local:1"),
        "Dask, 2 workers": DaskOptions("local:2"),
    }
    samples: dict[str, list[dict]] = {name: [] for name in cases}
    overheads: dict[int, list[dict]] = {1: [], 2: []}
    for r in range(args.rounds):
        for name, dask in cases.items():
            samples[name].append(train_until(path, test, target, args.epochs, dask))
        for workers in overheads:
            overheads[workers].append(overhead_run(path, workers))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    results = {name: summarize(s) for name, s in samples.items()}
    for workers, runs in overheads.items():
        results[f"overhead, {workers} worker(s)"] = {
            "round_overhead_ms": statistics.median(o["round_overhead_ms"] for o in runs),
            "round_ms": statistics.median(o["round_ms"] for o in runs),
            "rounds": statistics.median(o["rounds"] for o in runs),
        }

    with Table(path) as table:
        d = table.n_features
    table_text = render(results, target, d, args.epochs)
    print(table_text)
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "quick": args.quick, "rounds": args.rounds,
        "target_log_loss": target, "results": results, "samples": samples, "table": table_text,
    }
    name = f"{record['date'].replace(':', '')}{'-quick' if args.quick else ''}-scaling.json"
    with open(os.path.join(HERE, "results", name), "w") as fh:
        json.dump(record, fh, indent=2)
    return 0


def summarize(samples: list[dict]) -> dict:
    def median(key):
        values = [s[key] for s in samples if s[key] is not None]
        return statistics.median(values) if values else None

    return {
        "rows_per_s": median("rows_per_s"),
        "rows_per_s_min": min(s["rows_per_s"] for s in samples),
        "rows_per_s_max": max(s["rows_per_s"] for s in samples),
        "to_target_s": median("to_target_s"),
        "reached": sum(s["to_target_s"] is not None for s in samples),
        "runs": len(samples),
        "final_val_loss": statistics.median(s["val_loss"][-1] for s in samples),
        "rounds": median("rounds"),
        "round_ms": median("round_ms"),
        "round_overhead_ms": median("round_overhead_ms"),
        "sync_every": samples[0]["sync_every"],
    }


def projection(results: dict, d: int) -> list[dict]:
    """Cost per round at W workers, from the 1- and 2-worker measurements."""
    one = results["Dask, 1 worker"]
    fixed, per_worker = fitted_overhead(results)
    rows_per_round = (one["sync_every"] or DEFAULT_SYNC_ROWS // BATCH) * BATCH
    compute_ms = 1000.0 * rows_per_round / one["rows_per_s"]  # one worker alone, no data shared
    out = []
    for params, label in ((d + 1, f"this model ({d + 1} weights)"), (10**6, "10^6 weights")):
        state_bytes = params * 8  # plain SGD sends the weights; Adam and momentum send 2-3 times as much
        for w in PROJECTED:
            row = {"model": label, "workers": w, "compute_ms": compute_ms,
                   "dask_ms": fixed + per_worker * (w - 1), "bytes": 2 * w * state_bytes}
            for link, rate in LINKS.items():
                row[f"transfer_ms {link}"] = 1000.0 * row["bytes"] / rate
            out.append(row)
    return out


def fitted_overhead(results: dict) -> tuple[float, float]:
    """(fixed ms, ms per additional worker) of a round, from the short-round runs at 1 and 2 workers."""
    one = results["overhead, 1 worker(s)"]["round_overhead_ms"]
    two = results["overhead, 2 worker(s)"]["round_overhead_ms"]
    return one, max(two - one, DOC_TASK_MS)


def render(r: dict, target: float, d: int, epochs: int) -> str:
    lines = [f"Dask scaling on this machine ({os.cpu_count()} cores), batch {BATCH}, lr {LR}; "
             f"target test log loss {target:.4f} (one epoch without Dask, + 0.001)",
             f"{'case':<22} {'rows/s':>9} {'min':>8} {'max':>8} {'to target s':>12} {'reached':>8} {'val loss':>9} "
             f"{'K':>5} {'rounds':>7} {'round ms':>9} {'overhead ms':>12}"]
    for name, s in r.items():
        if name.startswith("overhead"):
            continue
        to_target = f"{s['to_target_s']:12.2f}" if s["to_target_s"] is not None else f"{'> ' + str(epochs) + ' ep':>12}"
        k = f"{s['sync_every']:5d}" if s["sync_every"] else f"{'':>5}"
        rounds = f"{s['rounds']:7.0f}" if s["rounds"] is not None else f"{'':>7}"
        rms = f"{s['round_ms']:9.1f}" if s["round_ms"] is not None else f"{'':>9}"
        over = f"{s['round_overhead_ms']:12.1f}" if s["round_overhead_ms"] is not None else f"{'':>12}"
        lines.append(f"{name:<22} {s['rows_per_s'] / 1e6:8.2f}M {s['rows_per_s_min'] / 1e6:7.2f}M "
                     f"{s['rows_per_s_max'] / 1e6:7.2f}M {to_target} {s['reached']:>4}/{s['runs']:<3} "
                     f"{s['final_val_loss']:9.4f} {k} {rounds} {rms} {over}")
    speedup = r["Dask, 2 workers"]["rows_per_s"] / r["Dask, 1 worker"]["rows_per_s"]
    lines.append(f"2 workers / 1 worker: {speedup:.2f}x the rows/s. Both workers share this machine's "
                 f"{os.cpu_count()} cores (and the 1-worker run already uses all of them), so this machine bounds "
                 f"the speed-up; it measures the protocol's cost, not the scaling of a cluster.")
    fixed, per_worker = fitted_overhead(r)
    for w in (1, 2):
        o = r[f"overhead, {w} worker(s)"]
        lines.append(f"model-averaging overhead per round, {w} worker(s), --sync-every {OVERHEAD_SYNC} "
                     f"({o['rounds']:.0f} rounds): {o['round_overhead_ms']:.1f} ms of {o['round_ms']:.1f} ms per round")
    measured = r["overhead, 2 worker(s)"]["round_overhead_ms"] - fixed
    lines.append(f"per round: {fixed:.1f} ms + {per_worker:.2f} ms per additional worker (measured {measured:+.2f} ms "
                 f"from 1 to 2 workers; at least Dask's documented {DOC_TASK_MS:g} ms per task is charged)")
    lines.append("")
    lines.append("Projected cost per round (compute: the rows one worker trains per round at the 1-worker rate; "
                 "Dask: the per-round cost above; transfer: the state to and "
                 "from every worker over the driver's link)")
    lines.append(f"{'model':<26} {'workers':>7} {'compute ms':>11} {'Dask ms':>8} {'MB/round':>9} "
                 + " ".join(f"{'xfer ms ' + link:>16}" for link in LINKS) + f" {'comm/compute':>13}")
    for row in projection(r, d):
        transfer = [row[f"transfer_ms {link}"] for link in LINKS]
        ratio = (row["dask_ms"] + transfer[-1]) / row["compute_ms"]
        lines.append(f"{row['model']:<26} {row['workers']:7d} {row['compute_ms']:11.1f} {row['dask_ms']:8.1f} "
                     f"{row['bytes'] / 1e6:9.3f} " + " ".join(f"{t:16.2f}" for t in transfer) + f" {ratio:13.3f}")
    lines.append("comm/compute uses the 10 Gb/s link; the driver sends and gathers serially, so a larger model "
                 "wants a tree reduction (or Dask's collectives) before 64 workers.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
