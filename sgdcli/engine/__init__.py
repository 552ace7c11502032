"""The training engine: one epoch over a list of row blocks, and the passes before training.

Plain functions of (data, state, plan): they know nothing of output files,
progress bars, executors or options parsing, so a resumed run, a thread of
``--parallel average`` and a Dask worker all call the same code.
"""
