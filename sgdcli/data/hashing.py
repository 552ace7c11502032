"""Feature hashing: named features to 2^bits columns, the way scikit-learn's ``FeatureHasher`` does it.

A feature's name is hashed with MurmurHash3 (32 bits, seed 0, the ``mmh3``
package); the column is |h| mod 2^bits and the value's sign is the hash's, so
that collisions cancel on average (``alternate_sign``).  A numeric field is
the feature ``name`` with its value; a text field is the feature
``name=value`` with value 1 (as FeatureHasher reads a dict).  The same
features therefore land in the same columns as
``FeatureHasher(n_features=2**bits)`` puts them.

The parameters are stored with the converted matrix (``ATTR``) and carried
into the model, so that predicting on data hashed otherwise is refused.
"""

from __future__ import annotations

import json

from sgdcli.errors import InputError

ATTR = "hashing"  # attribute of the converted X: the parameters as JSON text
FUNCTION = "murmurhash3_32"
SEED = 0
MAX_BITS = 31  # |h| mod 2^bits of a signed 32-bit hash


def check_bits(bits: int) -> None:
    if not 1 <= bits <= MAX_BITS:
        raise InputError(f"--hash-bits: must be from 1 to {MAX_BITS}, got {bits}")


class Hasher:
    """Names to (column, sign)."""

    def __init__(self, bits: int):
        check_bits(bits)
        import mmh3

        self.bits, self.width, self._hash = bits, 1 << bits, mmh3.hash

    def column(self, name: str) -> tuple[int, float]:
        h = self._hash(name, SEED, True)
        return abs(h) % self.width, -1.0 if h < 0 else 1.0

    def add(self, name: str, value: float, columns: list, values: list) -> None:
        """Append the feature ``name`` with ``value`` to a row's entries."""
        column, sign = self.column(name)
        columns.append(column)
        values.append(sign * value)

    def params(self, source: str) -> dict:
        return {"function": FUNCTION, "seed": SEED, "bits": self.bits, "alternate_sign": True, "source": source}


def dumps(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def read(obj) -> dict | None:
    """The hashing parameters stored on ``obj`` (an HDF5 dataset or group), or None."""
    text = obj.attrs.get(ATTR)
    if text is None:
        return None
    try:
        return json.loads(text.decode() if isinstance(text, bytes) else str(text))
    except ValueError:
        return None


def same(model: dict | None, data: dict | None) -> bool:
    """Whether data hashed with ``data`` fits a model trained on data hashed with ``model`` (None: not hashed):
    the same hash, and features named the same way (CSV and TSV columns alike; LIBSVM ids and Vowpal Wabbit's
    namespace^name otherwise)."""
    keys = ("function", "seed", "bits", "alternate_sign")
    if model is None or data is None:
        return model is None and data is None
    return all(model.get(k) == data.get(k) for k in keys) and _naming(model) == _naming(data)


def _naming(params: dict) -> str | None:
    source = params.get("source")
    return "csv" if source == "tsv" else source


def describe(params: dict | None) -> str:
    """"is hashed …" or "is not hashed", for messages."""
    if params is None:
        return "is not hashed"
    source = f" from {params['source']}" if params.get("source") else ""
    return f"is hashed{source} into 2^{params['bits']} columns ({params['function']}, seed {params['seed']})"
