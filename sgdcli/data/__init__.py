"""HDF5 in and out: opening files, storage layouts, reading row blocks (memory maps, chunks, read-ahead),
which rows a pass uses and in what order, and the commands that write data (convert, generate, info).

Knows nothing of models, optimizers, losses or training (an import-linter contract).
"""
