"""Synthetic data from a known linear model, written in blocks of bounded size.

Features are Gaussian with per-feature offsets and scales (so that
``--standardize`` matters); the generating model is stored next to the data:
file attributes hold the parameters, ``/generator/coef`` and
``/generator/intercept`` the true weights.

- regression: y = X·w + b + noise·N(0, 1)
- binary:     y = 1 if X·w + b + noise·Logistic(0, 1) > 0 else 0
- multiclass: y = argmax_k (X·W_k + b_k + noise·Gumbel(0, 1))
"""

from __future__ import annotations

import inspect
import math
import os
from typing import Callable

import numpy as np

from sgdcli import __version__
from sgdcli.data import newhdf5, storage
from sgdcli.data.atomic import atomic_output, check_space, check_writable
from sgdcli.data.textfiles import check_output_name
from sgdcli.errors import InputError
from sgdcli.fieldtypes import checked_arguments
from sgdcli.options import COMPRESSIONS, GENERATE, MAX_CLASSES, TASKS
from sgdcli.sizes import MAX_CHUNK_BYTES, OLD_HDF5, check_chunk_rows, format_size, memory_limit

BLOCK_BYTES = 4 * 2**20  # float32 bytes of X per block; temporaries are a few times this


@checked_arguments()  # each keyword of the type its annotation names, as sgdcli generate's options are
def generate(
    output,
    task: str = GENERATE.task,
    rows: int = GENERATE.rows,
    features: int = GENERATE.features,
    classes: int = GENERATE.classes,
    noise: float = GENERATE.noise,
    seed: int = GENERATE.seed,
    data_seed: int | None = None,
    chunk_rows: int | None = None,
    contiguous: bool = False,
    compression: str = GENERATE.compression,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> dict:
    """Write ``X`` (float32, rows × features) and ``y``; return the generating parameters.

    ``seed`` draws the model and, unless ``data_seed`` is given, the rows (its draws after the model's:
    no ``data_seed`` repeats them, and ``data_seed`` is -1 in the file and the result); a ``data_seed``
    draws other rows from the same model (a test set).  ``progress(stage, rows written, rows)``: told before
    the first block and after each, as convert's is.
    """
    k, chunk_rows, block = _layout(output, task, rows, features, classes, noise, seed, data_seed, chunk_rows,
                                   contiguous, compression)

    rng = np.random.Generator(np.random.PCG64(seed))
    offset = rng.uniform(-2.0, 2.0, features)
    spread = np.exp(rng.uniform(np.log(0.5), np.log(3.0), features))
    coef = rng.standard_normal((k, features)) * (3.0 / np.sqrt(features))
    intercept = rng.standard_normal(k) * 0.5
    params = {
        "task": task, "rows": rows, "features": features, "noise": noise, "seed": seed,
        "data_seed": -1 if data_seed is None else data_seed,
        "classes": classes if task == "multiclass" else (2 if task == "binary" else 0),
        "generator": f"sgdcli {__version__}",
    }
    if data_seed is not None:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, data_seed])))
    filters = storage.compression_filters(compression)

    with atomic_output(output, "OUTPUT") as tmp, newhdf5.created(tmp) as f:
        layout = {"chunks": None} if contiguous else {"chunks": (chunk_rows, features), **filters}
        X = f.create_dataset("X", shape=(rows, features), dtype=np.float32, **layout)
        ylayout = {"chunks": None} if contiguous else {"chunks": (chunk_rows,), **filters}
        Y = f.create_dataset("y", shape=(rows,), dtype=np.float64 if task == "regression" else np.int64, **ylayout)
        stage = f"generating {output}"  # (what ``progress`` is told)
        for start in range(0, rows, block):
            if progress is not None:
                progress(stage, start, rows)
            n = min(block, rows - start)
            Z = rng.standard_normal((n, features))
            S = Z @ coef.T + intercept
            if task == "regression":
                y = S[:, 0] + noise * rng.standard_normal(n)
            elif task == "binary":
                y = (S[:, 0] + noise * rng.logistic(size=n) > 0).astype(np.int64)
            else:
                y = (S + noise * rng.gumbel(size=(n, k))).argmax(axis=1)
            X[start : start + n] = (Z * spread + offset).astype(np.float32)
            Y[start : start + n] = y
        if progress is not None:
            progress(stage, rows, rows)
        f.attrs.update(params)
        g = f.create_group("generator")
        # the model in the units of the stored X: w' = w / spread, b' = b - w'·offset
        g.create_dataset("coef", data=coef / spread)
        g.create_dataset("intercept", data=intercept - (coef / spread) @ offset)
    return params


def check_generate(output, **settings) -> None:
    """InputError for what ``generate(output, **settings)`` would refuse before it writes anything, without
    creating a file (--print-config): the output's directory is judged by its permissions."""
    generate.check(**settings)
    bound = inspect.signature(generate).bind(output, **settings)
    bound.apply_defaults()
    del bound.arguments["progress"]  # (told of the work, which this does not do)
    _layout(**bound.arguments, probe=False)


def _layout(output, task, rows, features, classes, noise, seed, data_seed, chunk_rows, contiguous, compression,
            probe: bool = True) -> tuple[int, int | None, int]:
    """(the model's rows, the chunk's rows or None, a block's rows) of generate's settings, or InputError for the
    first it refuses; ``probe``: try the output's directory by creating a file in it."""
    _check_settings(task, rows, features, classes, noise, seed, data_seed, chunk_rows, contiguous, compression)
    check_output_name(os.fspath(output), "generate", "")
    check_writable(output, "OUTPUT", probe=probe)
    k = classes if task == "multiclass" else 1
    given = chunk_rows
    if chunk_rows is None and not contiguous:
        chunk_rows = storage.chunk_rows_for(features, 4)
    if chunk_rows:
        chunk_rows = min(rows, chunk_rows)  # HDF5 refuses a chunk larger than a fixed-size dataset
    block = max(1, BLOCK_BYTES // (4 * features))
    if chunk_rows:
        block = max(chunk_rows, block // chunk_rows * chunk_rows)
    wide = 4 * features > MAX_CHUNK_BYTES  # a chunk of one row: --features's doing, said after the memory it needs
    if given is not None and not wide:  # (X's rows of float32, y's of 8 bytes)
        check_chunk_rows(chunk_rows, max(4 * features, 8))
    _check_memory(features, k, min(block, rows))
    if wide and not contiguous:
        raise InputError(f"--features {features}: a row of X is {format_size(4 * features)} as float32, and "
                         f"{OLD_HDF5} reads no chunk of 4 GiB or more; lower --features, or store X --contiguous")
    if probe and compression == "none":  # X's float32 and y's 8 bytes a row
        check_space(output, storage.stored_bytes(rows, chunk_rows, 4 * features + 8), "OUTPUT")
    return k, chunk_rows, block


# The most --noise taken: below float64's largest number over 2^10, which its draws (normal, logistic, Gumbel)
# never reach in magnitude (each is rarer than 1 in 10^440 there), so that the labels are finite
MAX_NOISE = 1e305


def _check_settings(task: str, rows: int, features: int, classes: int, noise: float, seed: int,
                    data_seed: int | None, chunk_rows: int | None, contiguous: bool, compression: str) -> None:
    """InputError for the first setting of ``generate`` that it refuses before it writes anything."""
    if task not in TASKS:
        raise InputError(f"--task: {task!r} is not one of {', '.join(TASKS)}")
    if rows < 1 or features < 1:
        raise InputError(f"--rows and --features must be >= 1, got {rows} and {features}")
    if task == "multiclass" and classes < 2:
        raise InputError(f"--classes must be >= 2, got {classes}")
    if task == "multiclass" and classes > MAX_CLASSES:  # training would refuse the file
        raise InputError(f"--classes must be at most {MAX_CLASSES}, the most classes a model takes, got {classes}")
    if not (math.isfinite(noise) and noise >= 0):
        raise InputError(f"--noise must be a finite number >= 0, got {noise}")
    if noise > MAX_NOISE:
        raise InputError(f"--noise must be at most {MAX_NOISE:g}, where its draws stay finite, got {noise:g}")
    for option, value in (("--seed", seed), ("--data-seed", data_seed)):
        if value is not None and value < 0:
            raise InputError(f"{option} must be >= 0, got {value}")
    if compression not in COMPRESSIONS:
        raise InputError(f"--compression: {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    if contiguous and compression != "none":
        raise InputError("--compression needs a chunked layout; drop --contiguous")
    if contiguous and chunk_rows is not None:
        raise InputError("--chunk-rows and --contiguous exclude each other")
    if chunk_rows is not None and chunk_rows < 1:
        raise InputError(f"--chunk-rows must be >= 1, got {chunk_rows}")


def _check_memory(features: int, k: int, block: int) -> None:
    """The generating model and a block of ``block`` rows fit in memory: refused up front, not a MemoryError (or
    the out-of-memory killer) once the file is begun."""
    # float64: the model's k rows and the per-feature offsets and scales; per row of a block, its draws, their
    # scaled copy and its float32 copy, and a temporary
    need, limit = 8 * features * (k + 2) + 28 * features * block, memory_limit()
    if limit is not None and need > limit:
        raise InputError(f"--features {features}: generating needs about {format_size(need)} (the model and a block "
                         f"of {block} row{'s' if block > 1 else ''}), more than the {format_size(limit)} this "
                         "process may use; lower --features" + (" or --chunk-rows" if block > 1 else ""))
