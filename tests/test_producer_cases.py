"""Less common files of the producer libraries: compression filters this HDF5 lacks, MATLAB v7.3 char labels,
sparse, cell and empty arrays and d × N matrices, netCDF dimensions, HDF5 enums, external links."""

import h5py
import numpy as np
import pytest

from conftest import cli, make_problem


def need(module: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install '.[test]' installs it)")


def _frame(n=300):
    pd = need("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["label"] = (df.a > 0).astype(int)
    return df


FILTERS = {"blosc": 32001, "blosc:zstd": 32001, "bzip2": 307}


@pytest.mark.parametrize("fmt", ["fixed", "table"])
@pytest.mark.parametrize("complib", list(FILTERS))
def test_a_pandas_frame_compressed_with_a_filter_hdf5_lacks_names_it(tmp_path, fmt, complib):
    """PyTables ships blosc and bzip2, h5py's HDF5 does not: the frame's reads failed with HDF5's own text
    ("damaged or unreadable (... can't open directory (/usr/local/lib/plugin) ...)"), where a plain dataset
    names the filter."""
    need("tables")
    code = FILTERS[complib]
    if h5py.h5z.filter_avail(code):
        pytest.skip(f"HDF5 filter {code} ({complib}) is available here: the frame reads")
    path = str(tmp_path / "f.h5")
    _frame().to_hdf(path, key="df", format=fmt, complevel=5, complib=complib)
    name = complib.split(":")[0]
    where = "df/axis0" if fmt == "fixed" else "df/table"
    for argv in (("train", path, "--x", "df", "--label-column", "label", "-o", tmp_path / "m.h5"),
                 ("info", path)):
        status, out, err = cli(*argv)
        problem = f"HDF5 filter {code} ({name}) is not available here, so the data cannot be decompressed"
        if argv[0] == "train":
            assert (status, out) == (2, "")
            assert err.startswith(f"sgdcli: error: {path}:{where}: {problem}; install its plugin"), err
            assert err.count("\n") == 1
        else:
            assert status == 0 and f"{where.split('/')[1]}: unreadable ({problem}" in out


def test_a_column_group_compressed_with_a_filter_hdf5_lacks_names_it(tmp_path):
    tables = need("tables")
    if h5py.h5z.filter_avail(32001):
        pytest.skip("HDF5 filter 32001 (blosc) is available here")
    path = str(tmp_path / "g.h5")
    X, y = make_problem("binary", n=300, d=2)
    with tables.open_file(path, "w") as f:
        g = f.create_group("/", "cols")
        for j in range(2):
            f.create_carray(g, f"c{j}", obj=X[:, j], filters=tables.Filters(complevel=5, complib="blosc"))
        f.create_array("/", "y", obj=y)
    status, out, err = cli("train", path, "--x", "cols", "-o", tmp_path / "m.h5")
    assert (status, err.split("; install")[0]) == (
        2, f"sgdcli: error: {path}:cols/c0: HDF5 filter 32001 (blosc) is not available here, so the data cannot be "
           "decompressed")
