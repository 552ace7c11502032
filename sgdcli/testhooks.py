"""The environment variables that only the tests set; never meant for normal use.

Each makes a tiny run slow or fine-grained enough for a test to stop it at a
chosen moment.  They are read once, when sgdcli is imported.  The delays
change only timing.  ``SGDCLI_SLICE_ROWS`` changes how often a run can be
interrupted and, in the last bits only, the model it makes (below).

- ``SGDCLI_SLICE_ROWS``: rows per kernel call (engine/epoch.py), so that safe
  points, where checkpoints are taken and signals acted on, come often.  A
  call that ends inside a mini-batch adds that batch's sums in another order:
  its loss is summed call by call, the logistic loop takes rows in fours from
  a call's start, and threads that share a batch split each call's rows of
  it.  So the model can differ from one made at the default slice by
  rounding (about 1e-16), never more: the same rows in the same batches and
  the same updates.  At any one setting runs are identical, and a run
  stopped and resumed is the run never stopped (slices are counted from each
  window's start): what tests/test_resume.py checks, at 256 rows, holds at
  the default too.  tests/test_training.py checks that 301 rows a call
  change the model by rounding only.
- ``SGDCLI_TEST_SAFE_POINT_DELAY``: seconds to sleep at every safe point
  (training/safepoints.py), so that tests can stop tiny runs at random moments.
- ``SGDCLI_TEST_ROUND_DELAY``: seconds each round of local SGD sleeps on a
  Dask worker (parallel/worker.py), so that tests can kill a worker mid-round.
"""

from __future__ import annotations

import math
import os

from sgdcli.errors import InputError


def _read(name: str, kind: type) -> int | float:
    """The variable ``name`` as a ``kind`` (int or float), finite and >= 0; 0 where it is unset.  Any other
    value is an InputError naming it: these share the SGDCLI_ prefix of the variables users set, and a value
    that is not a number was an internal error (a negative one a sleep that fails, or slices that never end)."""
    text = os.environ.get(name)
    if text is None:
        return kind(0)
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not (math.isfinite(value) and value >= 0):
        raise InputError(f"{name}={text!r}: not {'an integer' if kind is int else 'a number'} >= 0 (a variable "
                         "only sgdcli's tests set: unset it)")
    return value


SLICE_ROWS = _read("SGDCLI_SLICE_ROWS", int)  # 0: the engine's own slice
SAFE_POINT_DELAY = _read("SGDCLI_TEST_SAFE_POINT_DELAY", float)
ROUND_DELAY = _read("SGDCLI_TEST_ROUND_DELAY", float)
