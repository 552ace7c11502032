"""Where the work of a run runs: this process, threads that average models, or Dask workers.

executor.py is the one interface the training loop uses, and the one place
that chooses an executor.
"""
