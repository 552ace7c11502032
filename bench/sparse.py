"""Sparse data out of core: sgdcli on a CSR file 8x its --memory budget, against scikit-learn on the same rows.

Text-like data: 2^20 columns, about 80 nonzeros a row with Zipf-distributed
column frequencies (value 1, a bag of words), labels from a linear model on
the 20,000 most frequent columns plus noise; 900,000 training rows (140,000
with --quick), so that
``data`` + ``indices`` are more than 8x the --memory budget (64 MiB; 8 MiB
with --quick), and 100,000 test rows.  In one run it measures:

- a read pass over ``data`` and ``indices`` (the limit, nonzeros/s);
- ``sgdcli train`` in a subprocess (its peak RssAnon sampled) at batch 256
  and at the default batch, 5 epochs, with the defaults (on such wide
  sparse input: nesterov stepping on a batch's columns, features unscaled;
  --lr auto, cosine) and --l2 3e-5, the
  penalty whose optimum generalizes best here; and 20 epochs at the default
  batch, against the optimum;
- scikit-learn's ``SGDClassifier.partial_fit`` (log loss, alpha 3e-5: the
  same objective) on the same CSR blocks (65,536 rows, in memory: only
  partial_fit is timed), 5 epochs;
- scikit-learn's ``LogisticRegression`` on the whole training set in memory,
  C = 1/(n * 3e-5): the optimum of the same objective.

Prints rows/s and nanoseconds per nonzero, their ratios, test log losses and
the peak memory against the budget.  Raw figures go to
bench/results/<date>-sparse.json.

    python bench/sparse.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from run import RSS_SAMPLER, save_record  # noqa: E402

from sgdcli import evaluate, load_model  # noqa: E402
from sgdcli.training.setup import SPARSE_CLOCKS  # noqa: E402

D, DRAWS, TEST_ROWS, EPOCHS, L2, BLOCK = 1 << 20, 112, 100_000, 5, 3e-5, 65536  # 112 draws: ~80 distinct
QUALITY_EPOCHS = 20  # the run compared with the optimum
INFORMATIVE = 20_000  # the most frequent columns carry the label
SIZES = {False: (900_000, 64 << 20), True: (140_000, 8 << 20)}  # rows, --memory

TRAIN = RSS_SAMPLER + """
import json
from sgdcli import train
from sgdcli.options import TrainOptions
options = json.loads(sys.argv[3])
model = train(sys.argv[1], TrainOptions(**options), output=sys.argv[2])
print(json.dumps({"peak": peak[0], "seconds": [h["seconds"] for h in model.history],
                  "lr": model.training["lr"]}))
"""


def make(path: str, rows: int, seed: int) -> None:
    """CSR rows of about 80 distinct Zipf-distributed columns, value 1; labels from a linear model on the
    INFORMATIVE most frequent columns, plus noise."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, D + 1) ** 1.1
    p /= p.sum()
    w = np.zeros(D)
    w[:INFORMATIVE] = np.random.default_rng(0).standard_normal(INFORMATIVE)
    indptr, indices = [0], []
    for start in range(0, rows, BLOCK):
        n = min(BLOCK, rows - start)
        cols = rng.choice(D, size=(n, DRAWS), p=p)
        keys = np.unique(np.arange(n, dtype=np.int64)[:, None] * D + cols)  # sorted, repeats dropped
        indices.append((keys % D).astype(np.int32))
        indptr.extend((indptr[-1] + np.cumsum(np.bincount(keys // D, minlength=n))).tolist())
    indices = np.concatenate(indices)
    indptr = np.asarray(indptr, dtype=np.int64)
    scores = np.add.reduceat(w[indices], indptr[:-1])
    y = (scores / scores.std() + 0.5 * rng.standard_normal(rows) > 0).astype(np.int64)
    with h5py.File(path + ".tmp", "w") as f:
        g = f.create_group("X")
        g.attrs["encoding-type"], g.attrs["shape"] = "csr_matrix", (rows, D)
        g.create_dataset("data", data=np.ones(len(indices), np.float32), chunks=(1 << 18,))
        g.create_dataset("indices", data=indices, chunks=(1 << 18,))
        g.create_dataset("indptr", data=indptr, chunks=(1 << 16,))
        f["y"] = y
    os.replace(path + ".tmp", path)


def files(quick: bool) -> tuple[str, str]:
    rows, _ = SIZES[quick]
    d = datasets.bench_dir()
    train_path, test_path = (os.path.join(d, f"sparse-{rows // 1000}k-{name}.h5") for name in ("train", "test"))
    for path, n, seed in ((train_path, rows, 2), (test_path, TEST_ROWS, 3)):
        if not os.path.exists(path):
            make(path, n, seed)
    return train_path, test_path


def blocks(path: str):
    """The file's rows as scipy CSR blocks of BLOCK rows, and their labels."""
    import scipy.sparse as sp

    with h5py.File(path) as f:
        g = f["X"]
        indptr, rows = g["indptr"][()], int(g.attrs["shape"][0])
        for start in range(0, rows, BLOCK):
            stop = min(start + BLOCK, rows)
            lo, hi = int(indptr[start]), int(indptr[stop])
            yield (sp.csr_matrix((g["data"][lo:hi], g["indices"][lo:hi], indptr[start:stop + 1] - lo),
                                 shape=(stop - start, D)), f["y"][start:stop])


def read_pass(path: str) -> tuple[float, int]:
    with h5py.File(path) as f:
        g = f["X"]
        nnz = g["data"].shape[0]
        t0 = time.perf_counter()
        for name in ("data", "indices"):
            ds = g[name]
            for start in range(0, nnz, 1 << 22):
                ds[start:start + (1 << 22)]
        return time.perf_counter() - t0, nnz


def sgdcli_run(train_path, test_path, out, options) -> dict:
    proc = subprocess.run([sys.executable, "-c", TRAIN, train_path, out, json.dumps(options)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["log_loss"] = evaluate(load_model(out), test_path)["log_loss"]
    return result


def sklearn_runs(train_path, test_path, rows) -> dict:
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.metrics import log_loss
    import scipy.sparse as sp

    train_blocks = list(blocks(train_path))
    Xt, yt = (sp.vstack([b[0] for b in blocks(test_path)]), np.concatenate([b[1] for b in blocks(test_path)]))
    clf = SGDClassifier(loss="log_loss", alpha=L2, random_state=0)
    rng, seconds = np.random.default_rng(0), []
    for _ in range(EPOCHS):
        t0 = time.perf_counter()
        for k in rng.permutation(len(train_blocks)):
            clf.partial_fit(*train_blocks[k], classes=[0, 1])
        seconds.append(time.perf_counter() - t0)
    out = {"partial_fit": {"seconds": seconds, "log_loss": log_loss(yt, clf.predict_proba(Xt))}}
    X, y = sp.vstack([b[0] for b in train_blocks]), np.concatenate([b[1] for b in train_blocks])
    t0 = time.perf_counter()
    opt = LogisticRegression(C=1.0 / (rows * L2), max_iter=1000, tol=1e-8).fit(X, y)
    out["optimum"] = {"seconds": time.perf_counter() - t0, "log_loss": log_loss(yt, opt.predict_proba(Xt)),
                      "iterations": int(opt.n_iter_[0])}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="less data (and a smaller budget)")
    args = ap.parse_args(argv)
    rows, memory = SIZES[args.quick]
    train_path, test_path = files(args.quick)
    read_s, nnz = read_pass(train_path)
    print(f"{rows:,} rows, {nnz:,} nonzeros ({nnz * 8 / memory:.1f}x the --memory budget of {memory >> 20} MiB in "
          f"data + indices); read pass {nnz / read_s / 1e6:.0f}M nonzeros/s")
    results = {"read": {"seconds": read_s, "nnz": nnz}}
    # W, G, three slots, the effective weights, the scale and the mean; and momentum's catch-up clocks
    model_bytes = (D + 1) * 8 * (8 + SPARSE_CLOCKS)
    base = {"epochs": EPOCHS, "memory": memory, "l2": L2}
    out = os.path.join(datasets.bench_dir(), "sparse-model.h5")
    for name, extra in (("sgdcli, batch 256", {"batch_size": 256}), ("sgdcli, defaults (batch 32)", {}),
                        (f"sgdcli, {QUALITY_EPOCHS} epochs", {"epochs": QUALITY_EPOCHS})):
        results[name] = sgdcli_run(train_path, test_path, out, {**base, **extra})
    try:
        results.update(sklearn_runs(train_path, test_path, rows))
    except ImportError:
        print("scikit-learn is not installed (the bench extra): no peers")
    lines = [f"{'run':<28} {'rows/s':>10} {'ns/nnz':>7} {'x partial_fit':>13} {'test log loss':>14} {'peak MiB':>9}"
             f" {'epochs':>6}"]
    fit = results.get("partial_fit")
    fit_rate = rows / float(np.median(fit["seconds"])) if fit else None
    for name, r in results.items():
        if name in ("read", "optimum"):
            continue
        rate = rows / float(np.median(r["seconds"]))
        ratio = f"{rate / fit_rate:13.2f}" if fit_rate else f"{'-':>13}"
        peak = f"{r['peak'] / 2**20:9.0f}" if "peak" in r else f"{'-':>9}"
        epochs = len(r["seconds"])
        lines.append(f"{name:<28} {rate:10,.0f} {1e9 / (rate * nnz / rows):7.1f} {ratio} {r['log_loss']:14.4f} {peak}"
                     f" {epochs:6d}")
    if "optimum" in results:
        o = results["optimum"]
        lines.append(f"{'LogisticRegression optimum':<28} {'':>10} {'':>7} {'':>13} {o['log_loss']:14.4f}")
        best = results[f"sgdcli, {QUALITY_EPOCHS} epochs"]["log_loss"]
        lines.append(f"sgdcli after {QUALITY_EPOCHS} epochs: {best - o['log_loss']:+.4f} test log loss from the optimum "
                     f"(target: within 0.005)")
    lines.append(f"memory bound: --memory {memory >> 20} MiB + 150 MiB + the model ({model_bytes >> 20} MiB) = "
                 f"{(memory + (150 << 20) + model_bytes) >> 20} MiB")
    table = "\n".join(lines)
    print(table)
    save_record("sparse", args.quick, rows=rows, results=results, table=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
