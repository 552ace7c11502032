"""A training run: ``train()``, the epoch loop with validation and early stopping, checkpoints and resume,
signals, locks on outputs, and the batch-size sweep.

Imports neither click nor rich (an import-linter contract): progress is
reported through the ``Reporter`` it is handed.
"""
