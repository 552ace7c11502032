"""Writes the AnnData files of tests/test_anndata_layouts.py with the anndata that runs it: each version lays
an .h5ad file out in its own way, and these are the layouts of versions that cannot be installed beside
today's (anndata 0.6.22.post1 and 0.7.8, each in a virtual environment of its own with pandas < 2, numpy
< 1.25, h5py < 3.12 and scipy).  Run it there, from this folder:

    python make.py

It writes anndata-<version>-dense.h5ad, anndata-<version>-csr.h5ad, anndata-<version>-layers.h5ad (no X: the
matrix in layers/counts) and anndata-<version>-raw.h5ad (X of the first three genes, raw of all four).  The data
is made here, not read by the tests: they read it back from the files, and write it again with today's anndata.
"""

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp

rng = np.random.default_rng(7)
rows, genes = 60, 4
X = rng.normal(size=(rows, genes)).astype(np.float32)
X[np.abs(X) < 0.4] = 0  # zeros, so that the CSR file is sparse
truth = X @ np.array([1.5, -2.0, 0.5, 1.0]) + rng.normal(scale=0.5, size=rows)
cell_type = np.where(truth > 0, "B cell", "T cell")
batch = pd.Categorical(rng.choice(["a", "b", "c"], rows))
batch[[3, 17]] = np.nan  # missing values: code -1
obs = pd.DataFrame({"cell_type": pd.Categorical(cell_type), "batch": batch, "score": truth,
                    "weight": rng.uniform(0.5, 2.0, rows)}, index=[f"cell{i}" for i in range(rows)])
var = pd.DataFrame(index=[f"gene{j}" for j in range(genes)])
version = anndata.__version__
anndata.AnnData(X=X, obs=obs, var=var).write_h5ad(f"anndata-{version}-dense.h5ad")
anndata.AnnData(X=sp.csr_matrix(X), obs=obs, var=var).write_h5ad(f"anndata-{version}-csr.h5ad")
anndata.AnnData(X=None, obs=obs, var=var, layers={"counts": X}).write_h5ad(f"anndata-{version}-layers.h5ad")
full = anndata.AnnData(X=X, obs=obs, var=var)
full.raw = full
full[:, :3].write_h5ad(f"anndata-{version}-raw.h5ad")
