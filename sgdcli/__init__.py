"""sgdcli: mini-batch SGD on HDF5 files larger than memory.

The Python API mirrors the command line, which is a thin layer over it::

    import sgdcli
    model = sgdcli.train("data.h5", sgdcli.TrainOptions(model="logistic"), output="model.h5")
    sgdcli.evaluate(model, "test.h5")

Attributes are imported lazily so that ``import sgdcli`` (and ``sgdcli
--help``) never pulls in numba or h5py.  The package's layers, bottom up:
kernels (compiled code), data (HDF5 in and out), model, reporting, engine
(one epoch), parallel (where epochs run), training (a run), cli.
docs/architecture.md tells where to change what.
"""

__version__ = "0.1.0"

_LAZY = {
    "TrainOptions": "sgdcli.options",
    "DaskOptions": "sgdcli.daskoptions",
    "train": "sgdcli.training.train",
    "check_train_outputs": "sgdcli.training.train",
    "RunControl": "sgdcli.training.control",
    "default_checkpoint": "sgdcli.training.control",
    "stop_on_signals": "sgdcli.training.signals",
    "sweep": "sgdcli.training.sweep",
    "check_sweep_outputs": "sgdcli.training.sweep",
    "predict": "sgdcli.model.inference",
    "evaluate": "sgdcli.model.inference",
    "check_predict_output": "sgdcli.model.inference",
    "Model": "sgdcli.model.file",
    "load_model": "sgdcli.model.file",
    "model_card": "sgdcli.model.card",
    "generate": "sgdcli.data.generate",
    "check_generate": "sgdcli.data.generate",
    "convert": "sgdcli.data.convert",
    "check_convert": "sgdcli.data.convertsettings",
    "describe": "sgdcli.training.described",
    "directory_refusal": "sgdcli.data.directories",
    "Reporter": "sgdcli.reporting.reporter",
    "make_reporter": "sgdcli.reporting.renderers",
    "configure_runtime": "sgdcli.kernels.runtime",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sgdcli' has no attribute {name!r}")
