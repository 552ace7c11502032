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
  (training/run.py), so that tests can stop tiny runs at random moments.
- ``SGDCLI_TEST_ROUND_DELAY``: seconds each round of local SGD sleeps on a
  Dask worker (parallel/worker.py), so that tests can kill a worker mid-round.
"""

from __future__ import annotations

import os

SLICE_ROWS = int(os.environ.get("SGDCLI_SLICE_ROWS", 0))  # 0: the engine's own slice
SAFE_POINT_DELAY = float(os.environ.get("SGDCLI_TEST_SAFE_POINT_DELAY", 0))
ROUND_DELAY = float(os.environ.get("SGDCLI_TEST_ROUND_DELAY", 0))
