"""sgdcli: mini-batch SGD on HDF5 files larger than memory.

The Python API mirrors the command line::

    import sgdcli
    model = sgdcli.train("data.h5", sgdcli.TrainOptions(model="logistic"))
    sgdcli.evaluate(model, "test.h5")

Attributes are imported lazily so that ``import sgdcli`` (and ``sgdcli --help``)
never pulls in numba.
"""

__version__ = "0.1.0"

_LAZY = {
    "TrainOptions": "sgdcli.options",
    "train": "sgdcli.training",
    "predict": "sgdcli.inference",
    "evaluate": "sgdcli.inference",
    "generate": "sgdcli.generate",
    "describe": "sgdcli.info",
    "Model": "sgdcli.model",
    "load_model": "sgdcli.model",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sgdcli' has no attribute {name!r}")
