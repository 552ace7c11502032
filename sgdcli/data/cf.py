"""netCDF's CF packing: stored values that stand for missing ones, or for other numbers.

xarray, netCDF4 and most climate and sensor tools write a variable packed as
small integers with attributes that say how to read it (the CF conventions):
``_FillValue`` and ``missing_value`` mark entries that hold no value,
``scale_factor`` and ``add_offset`` give the number a stored value stands
for (stored × scale_factor + add_offset), and ``_Unsigned = "true"`` marks
integers stored signed that are unsigned (``"false"``, as netCDF-Java and
netCDF-3 conversions write it, unsigned storage of signed ones). Read as
stored, a missing entry is trained on as a number (-32767) and a model
learns the units of one packing: a file packed with another scale would be
scored wrongly. So such a dataset is decoded as xarray decodes it, block by
block as it is read (data/sources.py), and its missing entries become NaN,
which --bad-rows treats like any other non-finite value. ``valid_min``,
``valid_max`` and ``valid_range`` are not applied (xarray does not apply
them either).

A dataset whose attributes change nothing (the NaN ``_FillValue`` that xarray
gives every float variable) is read as it is stored, memory-mapped where it
can be.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np

from sgdcli.data.where import where_of
from sgdcli.errors import InputError

MISSING_ATTRS = ("_FillValue", "missing_value")


@dataclasses.dataclass(frozen=True)
class Packing:
    """How to decode a CF-packed dataset's stored values."""

    dtype: np.dtype  # what the values are decoded to (float32 or float64, as CF and xarray choose)
    missing: tuple  # stored values that mark an entry with no value (after _Unsigned)
    scale: float | None
    offset: float | None
    view: np.dtype | None  # the type of the other signedness that stored integers are read as (_Unsigned)

    def decode(self, stored: np.ndarray) -> np.ndarray:
        """``stored`` (a block as read, in the dataset's type) as the values it stands for, missing ones NaN."""
        raw = stored.view(self.view) if self.view is not None else stored
        out = raw.astype(self.dtype)  # a new block: the caller's buffer is left as read
        if self.missing:
            mask = raw == self.missing[0]
            for value in self.missing[1:]:
                mask |= raw == value
            out[mask] = np.nan
        if self.scale is not None:
            out *= self.scale
        if self.offset is not None:
            out += self.offset
        return out

    def describe(self) -> str:
        """The decoding in words, for ``info``."""
        parts = [" or ".join(_number(v) for v in self.missing) + " as missing (NaN)"] if self.missing else []
        if self.scale is not None:
            parts.append(f"× {_number(self.scale)}")
        if self.offset is not None:
            parts.append(f"+ {_number(self.offset)}")
        if self.view is not None:
            parts.insert(0, "as unsigned" if self.view.kind == "u" else "as signed")
        return f"CF-decoded to {self.dtype}: " + ", ".join(parts)


def _number(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def packing_of(ds: h5py.Dataset) -> Packing | None:
    """The CF decoding of ``ds``, or None where reading it as stored gives the same values (no CF attributes,
    or only a NaN fill value on floats). InputError for a CF attribute that is not a number."""
    dtype = ds.dtype
    if dtype.fields is not None or dtype.kind not in "biuf":
        return None
    attrs = ds.attrs
    names = [name for name in (*MISSING_ATTRS, "scale_factor", "add_offset", "_Unsigned") if name in attrs]
    if not names:
        return None
    where = where_of(ds)
    view = None
    flag = _text(attrs["_Unsigned"]).lower() if "_Unsigned" in attrs else None
    if (flag, dtype.kind) in (("true", "i"), ("false", "u")):
        view = np.dtype(f"{dtype.byteorder}{'u' if dtype.kind == 'i' else 'i'}{dtype.itemsize}")
    raw = view if view is not None else dtype
    missing = []
    for name in MISSING_ATTRS:
        for value in _values(attrs, name, where):
            kept = _as_stored(value, raw, dtype)
            if kept is not None and kept not in missing:
                missing.append(kept)
    scale = _scalar(attrs, "scale_factor", where)
    offset = _scalar(attrs, "add_offset", where)
    if scale == 1.0 and "add_offset" not in attrs:
        scale = None
    if offset == 0.0:
        offset = None
    if not missing and scale is None and offset is None and view is None:
        return None
    return Packing(_decoded_type(attrs, raw, scale, offset), tuple(missing), scale, offset, view)


def time_units(ds: h5py.Dataset) -> str | None:
    """The ``units`` of a variable of CF times (``hours since 2024-01-01``) or of xarray's durations (``seconds``
    beside ``dtype: timedelta64[ns]``), else None: counts of a unit, and from a date, that xarray picks from each
    export's values, so the same times are other numbers in another file."""
    units = _text(ds.attrs["units"]) if "units" in ds.attrs else ""
    timedelta = _text(ds.attrs["dtype"]).startswith("timedelta64") if "dtype" in ds.attrs else False
    return units if " since " in f" {units.lower()} " or (timedelta and units) else None


def _values(attrs, name: str, where: str) -> list:
    if name not in attrs:
        return []
    value = np.asarray(attrs[name])
    if value.dtype.kind not in "biuf":
        raise InputError(f"{where}: its {name} attribute is {_text(attrs[name])!r}, not a number; sgdcli decodes "
                         "netCDF's CF attributes as xarray does, and this one cannot be")
    return value.ravel().tolist()


def _scalar(attrs, name: str, where: str) -> float | None:
    values = _values(attrs, name, where)
    if len(values) > 1:
        raise InputError(f"{where}: its {name} attribute holds {len(values)} values; CF packing has one")
    return float(values[0]) if values else None


def _as_stored(value, raw: np.dtype, stored: np.dtype):
    """A fill or missing value as a stored value can equal it; None where none can (a NaN in a float
    dataset is NaN already; a value the type cannot hold never occurs)."""
    if raw.kind == "f":
        return None if np.isnan(value) else float(value)
    if isinstance(value, float) and (not np.isfinite(value) or value != int(value)):
        return None
    value = int(value)
    info = np.iinfo(raw)
    if stored != raw and stored.kind == "i" and value < 0:  # a signed fill of an _Unsigned variable
        value += 1 << (8 * stored.itemsize)
    elif stored != raw and stored.kind == "u" and value > info.max:  # an unsigned fill of _Unsigned = "false"
        value -= 1 << (8 * stored.itemsize)
    return value if info.min <= value <= info.max else None


def _decoded_type(attrs, raw: np.dtype, scale: float | None, offset: float | None) -> np.dtype:
    """The type values are decoded to, as xarray chooses it (CF: the type of scale_factor and add_offset):
    theirs where both are given as one float type (float64 for integers wider than 2 bytes), float64 where
    add_offset is given alone, scale_factor's alone; without them, float32 for floats of 4 bytes or less and
    integers of 2 bytes or less."""
    types = {name: np.asarray(attrs[name]).dtype for name in ("scale_factor", "add_offset") if name in attrs}
    if scale is None and offset is None:
        return np.dtype(np.float32 if raw.itemsize <= (4 if raw.kind == "f" else 2) else np.float64)
    if len(types) == 2 and types["scale_factor"] == types["add_offset"] == np.float32:
        return np.dtype(np.float64 if raw.kind in "iu" and raw.itemsize > 2 else np.float32)
    if "add_offset" in types or types.get("scale_factor") != np.float32:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def _text(value) -> str:
    if np.ndim(value):
        value = np.asarray(value).ravel()[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
