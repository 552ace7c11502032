"""convert writing CSR and hashing features: checked against the files and matrices scikit-learn's own readers
and FeatureHasher make of the same text."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
from scipy import sparse as scipy_sparse

from conftest import RSS_SAMPLER, cli, short_fits

sklearn_datasets = pytest.importorskip("sklearn.datasets")  # in the test extra; the skip only guards partial installs
FeatureHasher = pytest.importorskip("sklearn.feature_extraction").FeatureHasher


def stored_csr(path, x="X"):
    with h5py.File(path) as f:
        g = f[x]
        assert g.attrs["encoding-type"] == "csr_matrix" and g.attrs["encoding-version"] == "0.1.0"
        M = scipy_sparse.csr_matrix((g["data"][()], g["indices"][()], g["indptr"][()]), shape=tuple(g.attrs["shape"]))
        return M, f["y"][()], dict(g.attrs)


def random_csr(rows, cols, density, seed):
    M = scipy_sparse.random(rows, cols, density=density, format="csr", dtype=np.float32, random_state=seed)
    M.data = np.round(M.data * 8 - 4, 3).astype(np.float32)
    M.eliminate_zeros()
    return M


def test_libsvm_becomes_the_csr_matrix_sklearn_reads_block_by_block(tmp_path):
    from sgdcli import convert

    M = random_csr(1000, 5000, 0.002, 0)
    y = np.arange(1000) % 3
    sklearn_datasets.dump_svmlight_file(M, y, str(tmp_path / "d.svm"), zero_based=False)
    result = convert(tmp_path / "d.svm", tmp_path / "d.h5", block_rows=64)  # 16 blocks
    want, want_y = sklearn_datasets.load_svmlight_file(str(tmp_path / "d.svm"), zero_based=False)
    got, got_y, attrs = stored_csr(tmp_path / "d.h5")
    assert (result.sparse, result.rows, result.features) == (True, 1000, want.shape[1])
    assert got.shape == want.shape and got.has_sorted_indices
    assert (got != want.astype(np.float32)).nnz == 0 and np.array_equal(got_y, want_y)
    assert "hashing" not in attrs


def test_an_explicit_zero_makes_the_csr_matrix_as_wide_as_sklearn_reads_it(tmp_path):
    """"1 2:0 3:0" makes a file 3 columns wide, as load_svmlight_file and --dense read it; the CSR matrix,
    whose width came from the entries kept (zeros dropped), was 1 wide, and a model trained on it refused the
    same rows converted --dense.  An explicit zero in a later block widens it too; a file of zeros alone is
    a matrix of no entries."""
    from sgdcli import convert

    (tmp_path / "z.svm").write_text("1 2:0 3:0\n0 1:1\n" + "1 1:2\n" * 70 + "0 9:0.0\n")
    want, want_y = sklearn_datasets.load_svmlight_file(str(tmp_path / "z.svm"), zero_based=False)
    for args in ({}, {"block_rows": 16}):
        result = convert(tmp_path / "z.svm", tmp_path / "z.h5", **args)
        got, got_y, _ = stored_csr(tmp_path / "z.h5")
        assert (result.features, got.shape) == (9, want.shape) and (got != want).nnz == 0
    assert convert(tmp_path / "z.svm", tmp_path / "d.h5", sparse=False).features == 9
    (tmp_path / "zeros.svm").write_text("1 5:0\n")
    code, out, err = cli("convert", tmp_path / "zeros.svm", "-o", tmp_path / "zeros.h5")
    assert (code, out, err) == (0, f"wrote {tmp_path / 'zeros.h5'}: 1 row × 5 features from libsvm, sparse (CSR)\n", "")
    assert stored_csr(tmp_path / "zeros.h5")[0].shape == (1, 5)


def test_a_repeated_libsvm_index_is_summed_in_the_dense_output_as_in_the_csr_one(tmp_path):
    """A row that names an index twice holds the sum, whether convert writes CSR or (--dense) a dense matrix;
    --dense kept the last value."""
    (tmp_path / "dup.svm").write_text("1 1:1 1:3 2:5\n0 2:1 2:-1 3:2\n")
    want = np.array([[4, 5, 0], [0, 0, 2]], dtype=np.float32)
    assert cli("convert", tmp_path / "dup.svm", "-o", tmp_path / "sparse.h5")[0] == 0
    assert np.array_equal(stored_csr(tmp_path / "sparse.h5")[0].toarray(), want)
    assert cli("convert", tmp_path / "dup.svm", "-o", tmp_path / "dense.h5", "--dense")[0] == 0
    with h5py.File(tmp_path / "dense.h5") as f:
        assert np.array_equal(f["X"][()], want)


def test_csv_sparse_holds_the_nonzeros_of_the_dense_conversion(tmp_path):
    rng = np.random.default_rng(1)
    X = np.where(rng.random((500, 30)) < 0.1, rng.integers(-5, 6, (500, 30)), 0)
    np.savetxt(tmp_path / "d.csv", np.column_stack([X, np.arange(500) % 2]), delimiter=",", fmt="%d")
    for engine in ("python", "pyarrow"):
        code, out, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / f"{engine}.h5", "--sparse",
                             "--engine", engine)
        assert code == 0 and out.strip().endswith("500 rows × 30 features from csv, sparse (CSR)" +
                                                  (" (read by pyarrow)" if engine == "pyarrow" else "")), out
        got, y, _ = stored_csr(tmp_path / f"{engine}.h5")
        assert np.array_equal(got.toarray(), X) and got.nnz == np.count_nonzero(X)
        assert np.array_equal(y, np.arange(500) % 2)


def test_hashed_csv_columns_are_feature_hashers_dict_features(tmp_path):
    rows = [{"age": 31.5, "city": "Paris", "clicks": 0}, {"age": 40, "city": "Oslo", "clicks": 3},
            {"age": 22, "city": "", "clicks": 1}, {"age": -1.25, "city": "Paris, France", "clicks": 2}]
    with open(tmp_path / "d.csv", "w") as fh:
        fh.write("age,city,clicks,label\n")
        for i, r in enumerate(rows):
            city = f'"{r["city"]}"' if "," in r["city"] else r["city"]
            fh.write(f"{r['age']},{city},{r['clicks']},{i % 2}\n")
    code, out, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5", "--hash-bits", "6")
    assert code == 0 and "features hashed into 2^6 columns" in out, err
    got, y, attrs = stored_csr(tmp_path / "d.h5")
    as_read = [{k: v for k, v in r.items() if v != ""} for r in rows]  # an empty field is no feature
    want = FeatureHasher(n_features=64, input_type="dict").transform(as_read)
    np.testing.assert_allclose(got.toarray(), want.toarray(), rtol=1e-6)
    assert y.tolist() == [0, 1, 0, 1]
    assert '"bits": 6' in attrs["hashing"] and '"function": "murmurhash3_32"' in attrs["hashing"]


@pytest.mark.parametrize("missing", ["skip", "zero", "mean"])
def test_a_missing_value_policy_that_hashing_cannot_apply_is_refused(tmp_path, missing):
    """--missing skip (zero, mean) with --hash-bits was accepted and did nothing: the row with an empty number
    was written, hashed without that feature."""
    (tmp_path / "d.csv").write_text("a,city,y\n1.5,Paris,0\n,Oslo,1\n")
    code, out, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5", "--hash-bits", "4", "--missing",
                         missing)
    assert (code, out, err) == (2, "", f"sgdcli: error: --missing {missing} does not apply with --hash-bits: a "
                                       "missing value is hashed as no feature, so no row is left out and no value "
                                       "filled\n")
    assert not (tmp_path / "d.h5").exists()
    code, out, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5", "--hash-bits", "4")
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'd.h5'}: 2 rows"), err  # the default: as before


def test_vw_text_is_hashed_like_feature_hasher_pairs(tmp_path):
    (tmp_path / "d.vw").write_text(
        "1 'tag1|user age:0.5 new |ad id=7 size:2\n"
        "-1 |ad:2 id=9 size:1.5\n"
        "\n"
        "1 1.0 | plain other:-3\n"
    )
    code, out, err = cli("convert", tmp_path / "d.vw", "-o", tmp_path / "d.h5", "--hash-bits", "10")
    assert code == 0, err
    got, y, _ = stored_csr(tmp_path / "d.h5")
    pairs = [[("user^age", 0.5), ("user^new", 1.0), ("ad^id=7", 1.0), ("ad^size", 2.0)],
             [("ad^id=9", 2.0), ("ad^size", 3.0)],  # the namespace's weight 2 multiplies its values
             [("plain", 1.0), ("other", -3.0)]]  # the default namespace: names alone
    want = FeatureHasher(n_features=1024, input_type="pair").transform(pairs)
    np.testing.assert_allclose(got.toarray(), want.toarray(), rtol=1e-6)
    assert y.tolist() == [1, -1, 1]


def test_info_names_the_labels_of_a_converted_vw_file_as_labels_and_its_importance_weights_as_weights(tmp_path):
    """convert writes the labels to y and the importance weights to w, which sorts first: info's options
    train on y weighted by w, and so does the command they make; a CSR file of other names gets the
    dataset named as labels are, not the first by name."""
    (tmp_path / "d.vw").write_text("".join(f"{1 if i % 3 else -1} {1 + i // 10} |a x{i % 5} y:{i % 7}\n"
                                           for i in range(20)))
    assert cli("convert", tmp_path / "d.vw", "-o", tmp_path / "d.h5", "--hash-bits", "8")[0] == 0
    with h5py.File(tmp_path / "d.h5") as f:
        assert sorted(f) == ["X", "w", "y"] and f["w"][-1] == 2.0
    code, out, err = cli("info", tmp_path / "d.h5")
    hint = "looks like a sparse (CSR) matrix: train with --x X --y y --sample-weight w"
    assert code == 0 and hint in out.splitlines(), out
    code, _, err = cli("train", tmp_path / "d.h5", *hint.split(" with ")[1].split(), "-o", tmp_path / "m.h5", "-q",
                   "--batch-size", "4")
    assert code == 0, err
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["classes"][()].tolist() == [-1.0, 1.0]
    M = random_csr(20, 16, 0.3, 1)
    with h5py.File(tmp_path / "o.h5", "w") as f:
        g = f.create_group("M")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"] = M.shape
        f["ids"], f["target"], f["extra"] = np.arange(20), np.arange(20) % 2, np.zeros(7)
    code, out, err = cli("info", tmp_path / "o.h5")
    assert code == 0 and "looks like a sparse (CSR) matrix: train with --x M --y target" in out.splitlines(), out


def test_vw_text_is_hashed_into_2_18_columns_unless_told(tmp_path):
    (tmp_path / "d.vw").write_text("1 |a x\n0 |a y\n")
    code, out, err = cli("convert", tmp_path / "d.vw", "-o", tmp_path / "d.h5")
    assert code == 0 and out.strip().endswith("2 rows × 262144 features from vw, sparse (CSR), features hashed "
                                              "into 2^18 columns; row weights in w (train with --sample-weight w)"), out


def test_libsvm_ids_hash_as_their_text(tmp_path):
    (tmp_path / "d.svm").write_text("1 7:1.5 123456789012:2\n0 7:-1\n")
    code, out, err = cli("convert", tmp_path / "d.svm", "-o", tmp_path / "d.h5", "--hash-bits", "4")
    assert code == 0, err
    got, _, _ = stored_csr(tmp_path / "d.h5")
    want = FeatureHasher(n_features=16, input_type="pair").transform([[("7", 1.5), ("123456789012", 2.0)],
                                                                       [("7", -1.0)]])
    np.testing.assert_allclose(got.toarray(), want.toarray(), rtol=1e-6)


def test_a_sparse_conversion_trains_and_its_model_refuses_data_hashed_otherwise(tmp_path):
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(300)]
    w_true = {w: rng.standard_normal() for w in words}
    lines = []
    for _ in range(2000):
        chosen = rng.choice(words, size=8, replace=False)
        label = int(sum(w_true[w] for w in chosen) > 0)
        lines.append(f"{label} |text {' '.join(chosen)}")
    (tmp_path / "d.vw").write_text("\n".join(lines) + "\n")
    assert cli("convert", tmp_path / "d.vw", "-o", tmp_path / "d.h5", "--hash-bits", "12")[0] == 0
    code, out, err = cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "--epochs", "10")
    assert code == 0, err
    code, out, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "d.h5")
    assert code == 0 and float(out.split("accuracy")[1].split()[0]) > 0.9, out
    with h5py.File(tmp_path / "d.h5") as f, h5py.File(tmp_path / "plain.h5", "w") as g:
        for name in ("data", "indices", "indptr"):
            g[f"X/{name}"] = f[f"X/{name}"][()]
        g["X"].attrs["shape"] = f["X"].attrs["shape"]
        g["y"] = f["y"][()]
    code, out, err = cli("predict", tmp_path / "m.h5", tmp_path / "plain.h5", "-o", tmp_path / "p.csv")
    assert code == 2 and err.strip() == (
        f"sgdcli: error: {tmp_path / 'plain.h5'}:X: is not hashed, the model's training data is hashed from vw into "
        "2^12 columns (murmurhash3_32, seed 0); convert the data as the training data was"), err
    assert cli("show", tmp_path / "m.h5")[1].count("2^12") >= 1
    # --init checks it too; and features hashed from another format are named otherwise (LIBSVM ids, not
    # namespace^word), so they do not fit either: both trained silently
    code, _, err = cli("train", tmp_path / "plain.h5", "-o", tmp_path / "w.h5", "--init", tmp_path / "m.h5")
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: --init {tmp_path / 'm.h5'}: its training data is hashed from vw "
                                      f"into 2^12 columns (murmurhash3_32, seed 0); {tmp_path / 'plain.h5'}:X is not "
                                      "hashed"), err
    (tmp_path / "d.svm").write_text("1 7:1 9:2\n0 8:1\n")
    assert cli("convert", tmp_path / "d.svm", "-o", tmp_path / "s.h5", "--hash-bits", "12")[0] == 0
    for args in (["evaluate", tmp_path / "m.h5", tmp_path / "s.h5"],
                 ["train", tmp_path / "s.h5", "-o", tmp_path / "w.h5", "--init", tmp_path / "m.h5", "--batch-size", "1"]):
        code, _, err = cli(*args)
        assert code == 2 and "is hashed from libsvm into 2^12 columns" in err, err
    assert not (tmp_path / "w.h5").exists()


@pytest.mark.parametrize("args,message", [
    (["{vw_weighted}"], "{vw_weighted}: line 2: importance weight -2.5 is not a finite number >= 0 (--bad-rows "
                        "skip leaves such rows out)"),
    (["{vw_bare}"], "{vw_bare}: line 1: no '|' before the features: not Vowpal Wabbit text (--bad-rows skip leaves "
                    "such rows out)"),
    (["{npy}", "--hash-bits", "8", "--label-column", "0"], "--hash-bits applies to CSV/TSV, LIBSVM and Vowpal "
                                                           "Wabbit text, whose features have names"),
    (["{svm}", "--hash-bits", "32"], "--hash-bits: must be from 1 to 31, got 32"),
    (["{svm}", "--hash-bits", "8", "--features", "9"], "--hash-bits and --features exclude each other: hashing "
                                                       "makes 2^bits columns"),
    (["{svm_wide}"], "{svm_wide}: line 1, token 2: feature index 4294967296 does not fit the 32-bit indices of a "
                     "CSR file (hash the features into fewer columns with --hash-bits)"),
    # as the file counts it: under --zero-based it was "feature index 3000000001"
    (["{svm_wide}", "--zero-based"], "{svm_wide}: line 1, token 2: feature index 4294967296 does not fit the "
                                     "32-bit indices of a CSR file (hash the features into fewer columns with "
                                     "--hash-bits)"),
    (["{svm_wide}", "--bad-rows", "skip"], "{svm_wide}: line 1, token 2: feature index 4294967296 does not fit "
                                           "the 32-bit indices of a CSR file (hash the features into fewer columns "
                                           "with --hash-bits)"),
])
def test_usage_errors(tmp_path, args, message):
    paths = {"vw_weighted": tmp_path / "w.vw", "vw_bare": tmp_path / "b.vw", "npy": tmp_path / "x.npy",
             "svm": tmp_path / "d.svm", "svm_wide": tmp_path / "wide.svm"}
    paths["vw_weighted"].write_text("1 |a x\n0 -2.5 |a y\n")
    paths["vw_bare"].write_text("1 a b\n")
    np.save(paths["npy"], np.zeros((3, 2)))
    paths["svm"].write_text("1 1:1\n")
    paths["svm_wide"].write_text("1 4294967296:1\n")
    code, out, err = cli("convert", *[a.format(**paths) for a in args], "-o", tmp_path / "o.h5")
    assert (code, out, err.strip()) == (2, "", "sgdcli: error: " + message.format(**paths))
    assert not (tmp_path / "o.h5").exists()


def test_the_python_api_refuses_a_count_of_features_below_one(tmp_path):
    """The command line's option type refuses it before; convert() and check_convert() say it themselves."""
    from sgdcli import check_convert, convert
    from sgdcli.errors import InputError

    path = tmp_path / "d.svm"
    path.write_text("1 1:0.5\n")
    for call in (convert, check_convert):
        with pytest.raises(InputError, match=r"^--features must be >= 1, got 0$"):
            call(path, tmp_path / "o.h5", features=0)
    assert not (tmp_path / "o.h5").exists()


PEAK = RSS_SAMPLER + """
from sgdcli import convert
convert(sys.argv[1], sys.argv[2], block_rows=2048)
time.sleep(0.02)
print(peak[0])
"""


def test_memory_of_a_sparse_conversion_does_not_grow_with_the_input(tmp_path):
    """Four times the rows of ids up to 2^20 take less than half the extra memory that holding the extra
    entries would (the allocators' and HDF5's caches settle slowly, hence not less)."""
    rng = np.random.default_rng(3)
    peaks, sizes, per_row = [], (40_000, 160_000), 20
    for rows in sizes:
        path = tmp_path / f"d{rows}.svm"
        ids = rng.integers(1, 1 << 20, size=(rows, per_row))
        with open(path, "w") as fh:
            fh.writelines("1 " + " ".join(f"{i}:1" for i in row) + "\n" for row in ids.tolist())
        out = subprocess.run([sys.executable, "-c", PEAK, str(path), str(tmp_path / f"d{rows}.h5")],
                             capture_output=True, text=True, check=True)
        peaks.append(int(out.stdout.split()[-1]))
    held = (sizes[1] - sizes[0]) * per_row * 16  # the extra entries as float64 values and int64 columns
    assert peaks[1] - peaks[0] < held / 2, peaks


def test_colliding_features_add_with_their_signs(tmp_path):
    """Two names in one column cancel when their hash signs differ and add when they agree (scikit-learn's
    murmurhash3_32 decides both here, independently of sgdcli's hashing)."""
    from sklearn.utils import murmurhash3_32

    def column_sign(name):
        h = murmurhash3_32(name, seed=0)
        return abs(h) % 4, h < 0

    names = [f"n{i}" for i in range(200)]
    opposite = next((a, b) for a in names for b in names
                    if column_sign(a)[0] == column_sign(b)[0] and column_sign(a)[1] != column_sign(b)[1])
    same = next((a, b) for a in names for b in names
                if a != b and column_sign(a) == column_sign(b))
    (tmp_path / "d.svm").write_text(f"1 {opposite[0]}:2.5 {opposite[1]}:2.5\n0 {same[0]}:2.5 {same[1]}:2.5\n")
    assert cli("convert", tmp_path / "d.svm", "-o", tmp_path / "d.h5", "--hash-bits", "2")[0] == 0
    got, _, _ = stored_csr(tmp_path / "d.h5")
    assert got[0].nnz == 0  # cancelled, and the zero dropped
    column, negative = column_sign(same[0])
    assert got[1].nnz == 1 and got[1, column] == (-5.0 if negative else 5.0)


def test_a_vw_word_against_the_bar_is_the_tag_as_vowpal_wabbit_reads_it(tmp_path):
    """Vowpal Wabbit's parser (parse_example.cc) takes the last word before the '|' for the tag where it touches
    the '|' or begins with an apostrophe: row ids written against the bar became importance weights (and
    convert advised --sample-weight w), or a "base prediction" that stopped the conversion."""
    (tmp_path / "t.vw").write_text("1 12345|f a\n0 2 777|f b\n1 0.5 'x|f a\n0 3 9 |f b\n")
    code, out, err = cli("convert", tmp_path / "t.vw", "-o", tmp_path / "t.h5", "--bad-rows", "skip")
    assert code == 2 and "line 4: a base prediction (9) is not supported" in err, err
    (tmp_path / "t.vw").write_text("1 12345|f a\n0 2 777|f b\n1 0.5 'x|f a\n0 3 9|f b\n")
    code, out, err = cli("convert", tmp_path / "t.vw", "-o", tmp_path / "t.h5")
    assert code == 0, err
    with h5py.File(tmp_path / "t.h5") as f:
        assert f["y"][()].tolist() == [1, 0, 1, 0] and f["w"][()].tolist() == [1, 2, 0.5, 3]
    (tmp_path / "u.vw").write_text("0 |f a\n1|f a\n")
    code, out, err = cli("convert", tmp_path / "u.vw", "-o", tmp_path / "u.h5")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'u.vw'}: line 2: no label before the '|' (1 touches the "
                              "'|', so it is the tag, as Vowpal Wabbit reads it; a space before the '|' makes it the "
                              "label) (--bad-rows skip leaves such rows out)\n")


def test_a_vw_word_before_the_bar_that_is_neither_weight_nor_tag_is_a_bad_row(tmp_path):
    """'abc' in the importance weight's place was passed over (the row weighing 1, where Vowpal Wabbit warns and
    reads a weight of 0), and a third word 'mytag' that is no tag too.  Words are split at spaces and tabs, as
    Vowpal Wabbit splits them: a no-break space is part of a feature's name (str.split cut it in two)."""
    path = tmp_path / "t.vw"
    for text, odd in (("1 abc |f a\n0 |f b\n", "abc"), ("0 |f b\n0 0.5 mytag |f b\n", "mytag")):
        path.write_text(text)
        line = 1 + text.split("\n").index(next(s for s in text.split("\n") if odd in s))
        assert cli("convert", path, "-o", tmp_path / "t.h5") == (
            2, "", f"sgdcli: error: {path}: line {line}: '{odd}' before the '|' is neither a number (the importance "
                   "weight) nor a tag (which begins with an apostrophe, or touches the '|') (--bad-rows skip leaves "
                   "such rows out)\n")
    path.write_text("1 |f a\u00a0b\n0 |f a b\n")
    assert cli("convert", path, "-o", tmp_path / "t.h5", "--hash-bits", "18")[0] == 0
    with h5py.File(tmp_path / "t.h5") as f:
        assert f["X/indptr"][()].tolist() == [0, 1, 3]  # one feature, then two


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_vw_value_that_its_namespaces_weight_takes_to_infinity_is_a_bad_row(tmp_path, dtype):
    """`a:1e39` alone is refused as beyond float32, and `inf` is stored as written (train's --bad-rows judges
    it); a product of two finite numbers was stored as infinite, even in float64."""
    (tmp_path / "o.vw").write_text("0 |f a:1\n1 |f:1e300 a:1e300\n")
    code, out, err = cli("convert", tmp_path / "o.vw", "-o", tmp_path / "o.h5", "--dtype", dtype)
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'o.vw'}: line 2, feature a:1e300: 1e+300 × 1e300 "
                              "overflows to infinity (--bad-rows skip leaves such rows out)\n")
    code, out, err = cli("convert", tmp_path / "o.vw", "-o", tmp_path / "o.h5", "--dtype", dtype, "--bad-rows",
                         "skip")
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["y"][()].tolist() == [0] and np.isfinite(f["X/data"][()]).all()


@short_fits
def test_vw_importance_weights_become_the_sample_weights_w(tmp_path):
    """Written for every row, whatever the block, as 1 where a row gives none; a file whose rows all weigh 1
    gets its w too, which it had not: a nightly `train --sample-weight w` failed on such a day, exit 2."""
    lines = [f"{i % 2} |f a{i % 5}" for i in range(10)] + ["1 3 |f a", "0 0.5 'tag |f b"]
    (tmp_path / "w.vw").write_text("\n".join(lines) + "\n")
    from sgdcli import convert, train
    from sgdcli.options import TrainOptions

    result = convert(tmp_path / "w.vw", tmp_path / "w.h5", block_rows=4)
    assert result.weights == "w"
    with h5py.File(tmp_path / "w.h5") as f:
        assert f["w"][()].tolist() == [1.0] * 10 + [3.0, 0.5]
    (tmp_path / "one.vw").write_text("\n".join(lines[:10]) + "\n")
    assert convert(tmp_path / "one.vw", tmp_path / "one.h5", block_rows=4).weights == "w"
    with h5py.File(tmp_path / "one.h5") as f:
        assert f["w"][()].tolist() == [1.0] * 10
    model = train(tmp_path / "w.h5", TrainOptions(sample_weight="w", epochs=1, batch_size=4))
    assert model.training["sample_weight"] == {"dataset": "w", "total": 13.5}
