"""What a user can choose: training options, generate's and convert's defaults, and the names of models,
tasks, metrics and the other choices (where a run runs on Dask: daskoptions.py).

``TrainOptions`` is one frozen dataclass, checked before any work starts.
Every check names the command-line option it concerns, so the same message
serves the CLI and the Python API, and every field carries the help text the
CLI shows (cli/params.py builds the options of ``train`` and ``sweep`` from
the fields), so a default is written once.  This module imports nothing
heavy: ``sgdcli --help`` reads it.
"""

from __future__ import annotations

import dataclasses
import math
import os

from sgdcli.namelists import split_names
from sgdcli.errors import InputError
from sgdcli.fieldtypes import check_fields

MODELS = ("linear", "logistic", "softmax", "hinge", "huber", "quantile", "poisson", "squared_hinge",
          "modified_huber")
TASKS = ("regression", "binary", "multiclass")
_TASK_OF = {"linear": "regression", "logistic": "binary", "hinge": "binary", "softmax": "multiclass",
            "huber": "regression", "quantile": "regression", "poisson": "regression", "squared_hinge": "binary",
            "modified_huber": "binary"}
# What `evaluate` reports for a model of each task, in this order (quality gates name these too), and what
# some models report besides (metrics_of).
METRICS = {
    "regression": ("rows", "mse", "rmse", "mae", "r2"),
    "binary": ("rows", "accuracy", "log_loss", "auc", "precision", "recall", "f1"),
    "multiclass": ("rows", "accuracy", "log_loss"),
}
MODEL_METRICS = {"huber": ("huber",), "quantile": ("pinball", "below"), "poisson": ("deviance",)}
OPTIMIZERS = ("auto", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")  # those that take --momentum
EPS_OPTIMIZERS = ("adagrad", "rmsprop", "adam")  # those that scale each weight's step, guarded by --eps
# What --optimizer auto trains with where a step may update every weight ("dense"), and where its steps should touch
# only the columns of a batch's sparse rows ("sparse": under --l1 momentum's steps update every weight).
# training/autooptimizer.py says which a run's data and options call for; without it, all sparse input is the
# second kind.
AUTO_OPTIMIZER = {"dense": "nesterov", "sparse": "sgd"}
# Whether --standardize, unset, is on: for dense input, and sparse input dense enough to centre
# (training/autooptimizer.py ``dense_enough``); not for wider sparse input, which could only be scaled (centring
# would make every step O(columns)), and scaling a rare binary column by its small deviation magnifies it
# (bench/sparse.py).
AUTO_STANDARDIZE = {"dense": True, "sparse": False}
SCHEDULES = ("constant", "invscaling", "step", "cosine")
LR_SCALINGS = ("replicas", "linear", "sqrt", "none")
BAD_ROWS = ("error", "skip")
PARALLEL_MODES = ("batch", "average")
COMPRESSIONS = ("none", "gzip", "lzf")  # of the HDF5 files generate and convert write
CONVERT_FORMATS = ("csv", "tsv", "libsvm", "vw", "npy")
CONVERT_DTYPES = ("float32", "float64")
CSV_ENGINES = ("auto", "python", "pyarrow")
PREDICTION_FORMATS = ("hdf5", "csv", "tsv")  # of predict -o
PREDICTION_EXTENSIONS = {".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".csv": "csv", ".tsv": "tsv"}
STDOUT = "-"  # predict -o -: CSV on standard output
MAX_L2 = 2.0**1022  # --l2 below this: a stable rate is under 1/l2, which beyond it is subnormal (float64)
WEIGHTS_TWICE = "cannot be combined with --sample-weight; the weights are one column or the other"  # (Table's too)
MAX_CLASSES = 1000  # distinct labels of a classifier: more looks like a regression target

DEFAULT_X, DEFAULT_Y = "X", "y"  # the datasets train, predict and evaluate read unless told
DEFAULT_MEMORY = 256 * 2**20
MEMORY_HELP = "Cap on data in flight (blocks, read-ahead, shuffle buffer), e.g. 512M, 2G; at least 1M."


@dataclasses.dataclass(frozen=True)
class GenerateDefaults:
    """The defaults of ``generate`` (the API function and the command alike)."""

    task: str = "binary"
    rows: int = 10000
    features: int = 10
    classes: int = 3
    noise: float = 0.1
    seed: int = 0
    compression: str = "none"


@dataclasses.dataclass(frozen=True)
class ConvertDefaults:
    """The defaults of ``convert`` (the API function and the command alike) that are not None."""

    compression: str = "none"
    dtype: str = "float32"
    bad_rows: str = "error"
    engine: str = "auto"
    vw_hash_bits: int = 18  # Vowpal Wabbit text is always hashed; 18 bits is VW's own default (-b)
    max_categories: int = 20  # one-hot features of a --categorical column, besides its "other"
    missing: str = "error"
    decimal: str = "."


# pandas' default na_values (pandas.read_csv): what a CSV written by pandas, R or a spreadsheet holds for a
# missing value; what convert's --na-values is by default.
NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
             "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
MISSING = ("error", "skip", "zero", "mean")  # convert --missing


GENERATE, CONVERT = GenerateDefaults(), ConvertDefaults()


def task_of(model: str) -> str:
    """regression, binary or multiclass: what a model of type ``model`` predicts."""
    return _TASK_OF[model]


def parse_class_weights(text: str) -> dict[str, float] | None:
    """``--class-weight``: None for balanced, else {class as written: weight}, a comma in a class's name written
    ``\\,`` as in the lists of columns (sgdcli/namelists.py), and the weight after its last ``=``; InputError when
    malformed."""
    if text.strip() == "balanced":
        return None
    out = {}
    for item in split_names(text):
        name, sep, value = item.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not sep or not name.strip() or not (math.isfinite(weight) and weight >= 0):
            raise InputError(f"--class-weight: expected balanced or CLASS=WEIGHT,... with weights >= 0, got {item!r}")
        if name.strip() in out:
            raise InputError(f"--class-weight: class {name.strip()!r} is given twice")
        out[name.strip()] = weight
    if not out:  # read as no weights, it trained unweighted
        raise InputError(f"--class-weight: expected balanced or CLASS=WEIGHT,... with weights >= 0, got {text!r} "
                         "(an unset shell variable?)")
    return out


def objective(model: str, epsilon: float, quantile: float) -> tuple[str, float]:
    """A model's loss and its parameter: huber's ``epsilon``, quantile's ``quantile``, else 0."""
    return model, float(epsilon if model == "huber" else quantile if model == "quantile" else 0.0)


def metrics_of(model: str) -> tuple[str, ...]:
    """What ``evaluate`` reports for a model of type ``model``, in this order."""
    return METRICS[task_of(model)] + MODEL_METRICS.get(model, ())


def _option(default, help: str, **cli):
    """A field of TrainOptions: its default, and the help and command-line details the CLI builds its option from.

    ``cli`` may hold ``choices`` (the allowed values), ``kind`` (``batch``,
    ``size``, ``path`` or ``count``: the CLI's parameter type; ``name`` and
    ``columns``: what the API takes besides text; ``dataset``: a name of one
    inside the file, never empty; fieldtypes.py), ``flag`` (the
    switch of a boolean, when it is not ``--<name>``), ``switch`` (a boolean
    that may be left unset, None: ``--<name>/--no-<name>``) and ``metavar``.
    """
    return dataclasses.field(default=default, metadata={"help": help, **cli})


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """Everything ``sgdcli train`` accepts besides the file names; each default and help text is written here once."""

    x: str = _option(DEFAULT_X, "Features inside DATA: a 2-D dataset, a table (compound dataset), a pandas frame "
                                "or a group of 1-D columns (docs/other-tools.md).", kind="dataset")
    y: str = _option(DEFAULT_Y, "Label dataset inside DATA: 1-D, N×1, MATLAB's 1×N, a pandas Series, "
                                 "AnnData's obs/<column> (categorical or nullable), or a table's field as "
                                 "TABLE/FIELD.", kind="dataset")
    label_column: str | None = _option(None, "The labels are this column of --x (a name, or an index); the other "
                                             "columns are the features, and --y is not read.", metavar="NAME|INDEX",
                                       kind="name")
    weight_column: str | None = _option(None, "The rows' weights are this column of --x (a name, or an index), "
                                              "left out of the features: as --sample-weight's, for a frame or a "
                                              "table that holds them.", metavar="NAME|INDEX", kind="name")
    features: str | None = _option(None, "Only these columns of --x are features: names or indices, "
                                         "comma-separated; a comma inside a name is written \\, ('a\\,b,c') "
                                         "[default: every column].", metavar="LIST", kind="columns")
    transpose: bool = _option(False, "--x is stored features × rows (column-major writers); a dataset with a "
                                     "MATLAB_class attribute is read this way without it.")
    allow_unwritten: bool = _option(False, "Read rows never written (unallocated chunks, missing VDS sources) as their "
                                           "fill values instead of stopping: for files left sparse on purpose (not "
                                           "the parts of a CSR matrix).")
    model: str = _option("logistic", "linear: squared error; huber: squared, then linear beyond --epsilon; "
                                     "quantile: pinball loss at --quantile; poisson: counts, log link; logistic: "
                                     "binary cross-entropy; hinge: linear SVM; squared_hinge; modified_huber: "
                                     "smoothed hinge with probabilities; softmax: multiclass.", choices=MODELS)
    epsilon: float = _option(0.1, "huber: the residual beyond which the loss grows linearly.")
    class_weight: str | None = _option(None, "Classifiers: weigh each class's rows in the loss. balanced: rows / "
                                             "(classes × the class's rows), from the label pass; or CLASS=W,... "
                                             "(e.g. 0=1,1=20; a class not listed weighs 1; a comma in a "
                                             "class's name written \\,).",
                                       metavar="balanced|C=W,...")
    sample_weight: str | None = _option(None, "Per-row weights: a 1-D (or N×1) dataset of DATA, >= 0 and finite; "
                                              "each row's loss counts that many times (a --val file is read with "
                                              "the dataset of the same name; docs/training.md).", metavar="DATASET",
                                        kind="dataset")
    positive_class: str | None = _option(None, "Binary models: the class the model scores as positive (its "
                                               "probability, recall, precision), by value or name [default: the "
                                               "larger value; of names, the one that sorts last].", metavar="CLASS",
                                         kind="name")
    quantile: float = _option(0.5, "quantile: the quantile q of the target the model predicts, in (0, 1).")
    l2: float = _option(0.0, "L2 penalty (l2/2)·‖w‖²; the bias is not penalised.")
    l1: float = _option(0.0, "L1 penalty l1·‖w‖₁, a proximal step: weights land on exactly 0.")
    epochs: int = _option(5, "Passes over every training row (0 with --init: the initial model, rewritten).")
    init: str | None = _option(None, "Start from this model's weights (warm start): same --model, features and "
                                     "classes; its standardization is kept (docs/unattended.md).", kind="path",
                               metavar="MODEL")
    init_optimizer: bool = _option(False, "With --init: start from its optimizer's state too (momentum, the "
                                          "AdaGrad/RMSprop/Adam averages, --average's running mean), which the "
                                          "model file keeps; the same --optimizer.")
    restandardize: bool = _option(False, "With --init: standardize with this data's statistics and carry the "
                                         "initial weights over to them, instead of keeping the initial model's.")
    batch_size: int | None = _option(32, "Rows per update: 1 is pure SGD, 'full' is full-batch gradient descent.",
                                     kind="batch")  # None means full batch
    drop_last: bool = _option(False, "Skip the last incomplete batch of each epoch.")
    lr: float | str = _option("auto", "Learning rate (before --lr-scaling); auto: chosen from the data before "
                                      "training (docs/training.md).", kind="rate")
    optimizer: str = _option("auto", "Update rule; see the optimizer table in docs/training.md. auto: nesterov; "
                                     "sgd on sparse (CSR) input with --l1 where its rows are not centred "
                                     "(docs/sparse.md); with --init-optimizer, the initial model's.",
                             choices=OPTIMIZERS)
    momentum: float = _option(0.9, "For momentum and nesterov.")
    beta1: float = _option(0.9, "Adam's first-moment decay.")
    beta2: float = _option(0.999, "Adam's second-moment decay; rmsprop's decay.")
    eps: float = _option(1e-8, "Denominator guard of adagrad, rmsprop, adam.")
    schedule: str = _option("cosine", "Learning-rate schedule; cosine decays it to 0 over --epochs.",
                            choices=SCHEDULES)
    power_t: float = _option(0.5, "invscaling: lr/(t+1)^power_t.")
    step_epochs: int = _option(10, "step: multiply lr by --gamma every N epochs.")
    gamma: float = _option(0.1, "step: decay factor.")
    warmup_iterations: int = _option(0, "Ramp lr up linearly over N iterations.")
    lr_scaling: str = _option(
        "replicas", "How lr grows with the effective batch, the models averaged (threads of --parallel average, "
                    "--dask workers) × the batch size. replicas: × the models averaged, up to the rate --lr auto gives "
                    "them (docs/distributed.md). linear: × effective batch / "
                    "--base-batch-size. sqrt: × its square root. none: as given.", choices=LR_SCALINGS)
    base_batch_size: int = _option(32, "Batch size at which --lr applies unscaled.")
    average: bool = _option(False, "Averaged SGD: the model is the mean of the iterates of the "
                                   "last half of the updates.")
    shuffle: bool = _option(True, "Visit the rows in file order every epoch (no page shuffle; a weighted run's "
                                  "draws of each window still come in random order).", flag="--no-shuffle")
    page_rows: int | None = _option(None, "Page shuffle: rows per page. Each batch mixes pages from random places "
                                          "of the file; larger pages read faster and mix less (for files already "
                                          "shuffled) [default: batch size / 16, from 1 to 16].", kind="count",
                                    metavar="N")
    seed: int = _option(0, "Seed of shuffling, of weighted runs' draws and of --val-fraction.")
    standardize: bool | None = _option(
        None, "Scale features to mean 0, std 1 as the model sees them (stats from one streaming pass; where sgd "
              "or momentum steps at mini-batches would overshoot the few rows a feature's spread sits in, it is "
              "divided by more: docs/training.md#standardization); the model "
              "still takes raw features [default: on for dense input, and for sparse (CSR) input of few columns "
              "for its nonzeros, which it centres too; off for wider sparse input, where it could only scale, and "
              "scaling magnifies rare columns (docs/sparse.md)].", switch=True)
    val: str | None = _option(None, "Validation file (HDF5).", kind="path")
    val_x: str | None = _option(None, "Feature dataset in --val [default: --x].", kind="dataset")
    val_y: str | None = _option(None, "Label dataset in --val [default: --y].", kind="dataset")
    val_fraction: float = _option(0.0, "Hold out this fraction of rows (seeded).")
    early_stopping: bool = _option(False, "Stop when validation loss (without a validation set, the training "
                                          "loss, plus --l2's and --l1's penalty) stops improving; keep the best "
                                          "epoch.")
    patience: int = _option(3, "Epochs without improvement before stopping, counted once the schedule's rate "
                                  "is at most a twentieth of its peak (every epoch at a constant rate).")
    min_delta: float = _option(1e-4, "Smallest loss decrease that counts.")
    bad_rows: str = _option("error", "error: stop at a row with NaN or inf and name it (labels are checked first; "
                                     "features in file order where standardized, else in the shuffle's order, so "
                                     "not always the first); skip: leave such rows out and count them.",
                            choices=BAD_ROWS)
    memory: int = _option(DEFAULT_MEMORY, MEMORY_HELP, kind="size")
    threads: int | None = _option(None, "Compute threads (per worker with --dask) [default: the cores available, "
                                        "less one for the reader (--parallel batch); for gzip-compressed X, the cores "
                                        "its decoders leave].")
    parallel: str = _option(
        "batch", "How threads share the work. batch: each mini-batch's gradient is split between them (the same "
                 "updates as one thread). average: each thread trains its own share of every epoch, and the models "
                 "are averaged every --sync-every steps (faster on many cores; a different trajectory).",
        choices=PARALLEL_MODES)
    sync_every: int | None = _option(
        None, "With --parallel average or --dask: mini-batch steps per thread or worker between model averagings "
              "[default: about 1M rows' worth].", kind="count", metavar="K")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        def bad(option: str, why: str):
            raise InputError(f"--{option.replace('_', '-')}: {why}")

        check_fields(self)  # types from the annotations, and the choices
        for name in ("lr", "eps", "epsilon"):
            value = getattr(self, name)
            if name == "lr" and value == "auto":
                continue
            if not (math.isfinite(value) and value > 0):
                bad(name, f"must be a finite number > 0{' or auto' if name == 'lr' else ''}, got {value}")
        if not (0 < self.quantile < 1):
            bad("quantile", f"must be in (0, 1), got {self.quantile}")
        if self.positive_class is not None and task_of(self.model) != "binary":
            bad("positive_class", f"applies to binary models; --model {self.model} is "
                                  f"{'a regression' if task_of(self.model) == 'regression' else 'multiclass'}")
        if self.class_weight is not None:
            if task_of(self.model) == "regression":
                bad("class_weight", f"applies to classifiers; --model {self.model} is a regression")
            parse_class_weights(self.class_weight)
        for name in ("l1", "l2", "min_delta"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                bad(name, f"must be a finite number >= 0, got {value}")
        if self.l2 >= MAX_L2:
            bad("l2", f"must be below {MAX_L2:.3g} (beyond it the largest stable rate, about 1/l2, is a subnormal "
                      f"number), got {self.l2}")
        for name in ("momentum", "beta1", "beta2"):
            value = getattr(self, name)
            if not (0 <= value < 1):
                bad(name, f"must be in [0, 1), got {value}")
        if not (0 < self.gamma <= 1):
            bad("gamma", f"must be in (0, 1], got {self.gamma}")
        if not (0 <= self.power_t <= 1):
            bad("power_t", f"must be in [0, 1], got {self.power_t}")
        for name in ("epochs", "step_epochs", "base_batch_size", "patience"):
            if getattr(self, name) < (0 if name == "epochs" and self.init is not None else 1):
                bad(name, f"must be >= 1 (0 with --init), got {getattr(self, name)}" if name == "epochs"
                    else f"must be >= 1, got {getattr(self, name)}")
        if self.restandardize and self.init is None:
            bad("restandardize", "applies with --init only")
        if self.init_optimizer and self.init is None:
            bad("init_optimizer", "applies with --init only")
        if self.init_optimizer and self.restandardize:
            bad("init_optimizer", "the optimizer's state is in the units of the initial model's standardization, "
                                  "which --restandardize replaces")
        if self.page_rows is not None and self.page_rows < 1:
            bad("page_rows", f"must be >= 1, got {self.page_rows}")
        for name in ("warmup_iterations", "seed"):
            if getattr(self, name) < 0:
                bad(name, f"must be >= 0, got {getattr(self, name)}")
        if self.batch_size is not None and self.batch_size < 1:
            bad("batch_size", f"must be >= 1 or 'full', got {self.batch_size}")
        if not (0 <= self.val_fraction < 1):
            bad("val_fraction", f"must be in [0, 1), got {self.val_fraction}")
        if self.val is not None and self.val_fraction > 0:
            bad("val_fraction", "cannot be combined with --val; choose one validation source")
        if self.weight_column is not None and self.sample_weight is not None:
            bad("weight_column", WEIGHTS_TWICE)
        if self.threads is not None and self.threads < 1:
            bad("threads", f"must be >= 1, got {self.threads}")
        if self.sync_every is not None and self.sync_every < 1:
            bad("sync_every", f"must be >= 1, got {self.sync_every}")

    def scaled_lr(self, batch_size: int, replicas: int = 1) -> float:
        """The base learning rate after ``--lr-scaling`` for the batch used by each of ``replicas`` averaged models.

        Averaging R models that each took a step on B rows is a step on R·B
        rows: an epoch takes R times fewer steps, and the linear scaling rule
        gives the rate R times more to make the same progress.  Models that
        take several steps of B rows between averagings can take only so
        much: a run holds ``replicas`` at the rate --lr auto gives them
        (training/replicas.py).
        """
        ratio = batch_size * replicas / self.base_batch_size
        if self.lr_scaling == "replicas":
            return self.lr * replicas
        if self.lr_scaling == "linear":
            return self.lr * ratio
        if self.lr_scaling == "sqrt":
            return self.lr * math.sqrt(ratio)
        return self.lr

    def for_input(self, sparse: bool, lazy: bool | None = None, centred: bool = False) -> TrainOptions:
        """These options with ``--optimizer auto`` and an unset ``--standardize`` resolved for dense or sparse
        input (AUTO_OPTIMIZER, AUTO_STANDARDIZE); ``lazy``: whether auto is sparse input's, whose steps touch
        only a batch's columns (None: on all sparse input; training/autooptimizer.py decides it for a run);
        ``centred``: sparse input whose rows standardization centres, standardized as dense input is."""
        kind = "sparse" if sparse and not centred else "dense"
        changes = {}
        if self.optimizer == "auto":
            changes["optimizer"] = AUTO_OPTIMIZER["sparse" if (sparse if lazy is None else lazy) else "dense"]
        if self.standardize is None:
            changes["standardize"] = AUTO_STANDARDIZE[kind]
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def objective(self) -> tuple[str, float]:
        """The model's loss and its parameter (``objective``)."""
        return objective(self.model, self.epsilon, self.quantile)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["batch_size"] = "full" if self.batch_size is None else self.batch_size
        return d


def gzipped(output: str) -> bool:
    """Whether ``predict -o output`` writes gzip-compressed text: a name that ends in ``.gz``."""
    return output != STDOUT and os.fspath(output).lower().endswith(".gz")


def prediction_format(output: str, given: str | None) -> str:
    """The format of ``predict -o output``: ``given`` (``--format``), else the extension's (``.csv.gz``: CSV,
    compressed, ``gzipped``); CSV for ``-`` (stdout).  Here, light, so that ``--print-config`` checks it as
    predict does."""
    if given is not None:
        if given not in PREDICTION_FORMATS:
            raise InputError(f"--format: {given!r} is not one of {', '.join(PREDICTION_FORMATS)}")
        if output == STDOUT and given == "hdf5":
            raise InputError("-o -: standard output takes csv or tsv, not hdf5")
        if given == "hdf5" and gzipped(output):
            raise InputError(f"-o {output}: a .gz name is for compressed text (.csv.gz, .tsv.gz), not hdf5")
        return given
    if output == STDOUT:
        return "csv"
    name = os.fspath(output).lower()
    ext = os.path.splitext(name[:-len(".gz")] if gzipped(output) else name)[1]
    if gzipped(output) and PREDICTION_EXTENSIONS.get(ext) not in ("csv", "tsv"):
        raise InputError(f"-o {output}: compressed predictions are CSV or TSV text: name them .csv.gz or .tsv.gz, "
                         "or say which with --format {csv,tsv}")
    if ext not in PREDICTION_EXTENSIONS:
        raise InputError(f"-o {output}: cannot tell the format from the extension {ext or '(none)'!r}; use .h5, "
                         f".csv or .tsv (.csv.gz, .tsv.gz: compressed), or say which with --format "
                         f"{{{','.join(PREDICTION_FORMATS)}}}")
    return PREDICTION_EXTENSIONS[ext]
