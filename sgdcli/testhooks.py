"""The environment variables that only the tests set; never meant for normal use.

Each makes a tiny run slow or fine-grained enough for a test to stop it at a
chosen moment.  They are read once, when sgdcli is imported, and changing
them changes how often a run can be interrupted, never the model it makes
(the tests check that too).

- ``SGDCLI_SLICE_ROWS``: rows per kernel call (engine/epoch.py), so that safe
  points, where checkpoints are taken and signals acted on, come often.
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
