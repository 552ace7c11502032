"""CSR groups (AnnData's encoding) read by row ranges (issue 18, WIP)."""

import h5py
import numpy as np
import pytest

from sgdcli.data import csrblocks
from sgdcli.data.sparse import CsrReader, is_csr
from sgdcli.errors import InputError

scipy_sparse = pytest.importorskip("scipy.sparse")


def write_csr(path, M, encoding=True):
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"] = M.shape
        if encoding:
            g.attrs["encoding-type"], g.attrs["encoding-version"] = "csr_matrix", "0.1.0"
    return path


def test_row_ranges_in_any_order_equal_scipys_rows(tmp_path):
    M = scipy_sparse.random(300, 1000, density=0.02, format="csr", dtype=np.float32, random_state=0)
    path = write_csr(tmp_path / "m.h5", M)
    ranges = [(250, 300), (0, 1), (17, 90), (5, 5), (299, 300)]
    with h5py.File(path) as f:
        assert is_csr(f["X"]) and not is_csr(f)
        reader = CsrReader(f["X"])
        got = reader.read_ranges(ranges)
        assert (reader.n_rows, reader.width, reader.nnz) == (300, 1000, M.nnz)
    want = scipy_sparse.vstack([M[a:b] for a, b in ranges]).toarray()
    np.testing.assert_array_equal(got.dense(1000), want)
    assert got.n_rows == sum(b - a for a, b in ranges)


def test_an_anndata_file_is_recognized(tmp_path):
    ad = pytest.importorskip("anndata")
    M = scipy_sparse.random(40, 12, density=0.3, format="csr", dtype=np.float32, random_state=1)
    ad.AnnData(X=M).write_h5ad(tmp_path / "a.h5ad")
    with h5py.File(tmp_path / "a.h5ad") as f:
        reader = CsrReader(f["X"])
        np.testing.assert_array_equal(reader.read_ranges([(0, 40)]).dense(12), M.toarray())
        assert "40 rows × 12 columns" in reader.describe()


@pytest.mark.parametrize("damage,message", [
    (lambda g: g["indptr"].__setitem__(3, 10**6), r"indptr\[3\] is 1000000, outside 0..\d+ \(the entries of data "
                                                  r"and indices\)$"),
    (lambda g: g["indptr"].__setitem__(3, g["indptr"][1] - 1), r"indptr decreases at row 2: indptr\[2\] is \d+ and "
                                                              r"indptr\[3\] is \d+ \(a row's entries are"),
    (lambda g: g["indptr"].__setitem__(3, -1), r"indptr\[3\] is -1, outside 0..\d+ "),  # (and the row before falls)
    # the first bad index in file order, named by its row: row 0's entries are indptr[0] .. indptr[1]
    (lambda g: g["indices"].__setitem__(slice(g["indptr"][2] + 1, g["indptr"][2] + 3), [5000, -2]),
     r"row 2 has column index 5000, outside 0..999 \(the attribute 'shape' says 1,000 columns\)$"),
    # entries before row 0's, which no row would ever read (scipy refuses such a matrix too)
    (lambda g: g["indptr"].__setitem__(0, 3), r"indptr must run from 0 to the \d+ entries of data and indices; it "
                                              r"runs from 3 to \d+"),
    (lambda g: g["indptr"].__setitem__(-1, g["indptr"][-2]), r"indptr must run from 0 to the (\d+) entries of "
                                                             r"data and indices; it runs from 0 to (?!\1)\d+"),
])
def test_an_inconsistent_matrix_is_a_one_line_error(tmp_path, damage, message):
    M = scipy_sparse.random(10, 1000, density=0.05, format="csr", dtype=np.float32, random_state=2)
    path = write_csr(tmp_path / "m.h5", M)
    with h5py.File(path, "r+") as f:
        damage(f["X"])
    with h5py.File(path) as f:
        with pytest.raises(InputError, match=message):
            CsrReader(f["X"]).read_ranges([(0, 5)])


def test_a_fall_in_indptr_between_the_rows_sampled_to_size_windows_names_the_rows(tmp_path):
    """Windows are sized from every extent_rows-th offset (data/csrblocks.py); a fall between two of them is
    named by those rows, as a fall within rows read is by its row."""
    M = scipy_sparse.random(1000, 30, density=0.2, format="csr", dtype=np.float32, random_state=3)
    path = write_csr(tmp_path / "m.h5", M)
    with h5py.File(path, "r+") as f:
        f["X/indptr"][200:300] = M.nnz  # rows 200-298 empty, row 299 runs back to its own entries
    with h5py.File(path) as f:
        costs = csrblocks.Costs(CsrReader(f["X"]), per_row=16, per_entry=12, memory=1 << 20, buffers=2)
        with pytest.raises(InputError, match=rf"X: indptr decreases between rows 200 and 300: indptr\[200\] is "
                                             rf"{M.nnz} and indptr\[300\] is {M.indptr[300]} \(a row's entries"):
            csrblocks.extent_costs(costs, 100)


@pytest.mark.parametrize("shape,message", [
    ((300, -1), "attribute 'shape' (300, -1) is not the shape of a matrix: (rows, columns), two counts of at least 0"),
    ((300, 1000, 1), "attribute 'shape' (300, 1000, 1) is not the shape of a matrix: (rows, columns), two counts of "
                     "at least 0"),
    ("300,1000", "attribute 'shape' '300,1000' is not the shape of a matrix: (rows, columns), two counts of at least "
                 "0"),
    ((300, 2.5), "attribute 'shape' (300.0, 2.5) is not the shape of a matrix: (rows, columns), two counts of at "
                 "least 0"),
    # the three datasets of a CSR matrix and no shape: not taken for a group of columns of different lengths
    (None, "a CSR matrix (data, indices, indptr) without the attribute 'shape', which AnnData writes; add it with "
           "h5py: f['/X'].attrs['shape'] = (rows, columns)"),
    ((0, 1000), "the CSR matrix is empty (shape (0, 1000))"),
])
def test_a_shape_attribute_that_is_not_a_matrixs_is_named(tmp_path, shape, message):
    from conftest import cli

    M = scipy_sparse.random(300, 1000, density=0.02, format="csr", dtype=np.float32, random_state=0)
    if shape == (0, 1000):
        M = scipy_sparse.csr_matrix((0, 1000), dtype=np.float32)
    path = write_csr(tmp_path / "m.h5", M, encoding=False)
    with h5py.File(path, "r+") as f:
        del f["X"].attrs["shape"]
        if shape is not None:
            f["X"].attrs["shape"] = shape
        f["y"] = np.arange(M.shape[0]) % 2
    code, _, err = cli("train", path, "-o", tmp_path / "model.h5", "-q")
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: {path}:X: {message}"), err
    code, out, _ = cli("info", path)
    assert code == 0 and f"but: {path}:X: {message}" in out and "-1 features" not in out


def test_a_matrix_written_by_h5sparse_is_read_by_its_own_attributes(tmp_path):
    """h5sparse (and AnnData before 0.7) name the shape 'h5sparse_shape' and the layout 'h5sparse_format'."""
    from conftest import cli

    M = scipy_sparse.random(300, 1000, density=0.02, format="csr", dtype=np.float32, random_state=0)
    plain = write_csr(tmp_path / "plain.h5", M, encoding=False)
    paths = {}
    for layout in ("csr", "csc"):
        stored = M if layout == "csr" else M.tocsc()
        with h5py.File(tmp_path / f"{layout}.h5", "w") as f:
            g = f.create_group("X")
            g["data"], g["indices"], g["indptr"] = stored.data, stored.indices, stored.indptr
            g.attrs["h5sparse_format"], g.attrs["h5sparse_shape"] = layout, stored.shape
            f["y"] = np.arange(300) % 2
        paths[layout] = tmp_path / f"{layout}.h5"
    with h5py.File(plain, "r+") as f:
        f["y"] = np.arange(300) % 2
    with h5py.File(paths["csr"]) as f, h5py.File(plain) as g:
        a, b = CsrReader(f["X"]), CsrReader(g["X"])
        assert (a.n_rows, a.width) == (300, 1000)
        np.testing.assert_array_equal(a.read_ranges([(0, 300)]).dense(1000), b.read_ranges([(0, 300)]).dense(1000))
    code, _, err = cli("train", paths["csc"], "-o", tmp_path / "m.h5", "-q")
    assert (code, err.strip().splitlines()[-1]) == (
        2, f"sgdcli: error: {paths['csc']}:X: is a sparse matrix stored as 'csc' (h5sparse_format); sgdcli reads "
           "sparse matrices stored by rows: write it as csr (scipy's .tocsr())")
    # info said "looks like a sparse (CSR) matrix: train with --x X --y <labels dataset>", then that it is not one
    code, out, _ = cli("info", paths["csc"])
    assert code == 0 and ("looks like a sparse matrix stored by columns (csc), which sgdcli does not read: write it "
                          "as csr (scipy's .tocsr())") in out and "CSR" not in out, out
    assert cli("train", paths["csr"], "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
