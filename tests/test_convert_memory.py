"""convert and memory: a dense row wider than the memory the process may use is refused before any work, dense
blocks of hashed rows stay within the dense block's bytes, and running out of memory names only the options of
the command that ran."""

import h5py
import numpy as np
import pytest

import sgdcli
from sgdcli import convert
from sgdcli.data import convert as convert_module
from sgdcli.data import writers
from sgdcli.sizes import MAX_CHUNK_BYTES

from conftest import cli, make_problem, write_table


def test_a_dense_libsvm_row_wider_than_memory_is_refused_before_it_is_read(tmp_path):
    """A dense row of index 2^40 was an 'out of memory; lower --memory or --batch-size' (options convert lacks),
    or, without a limit, the out-of-memory killer (exit 137) once the machine's memory was eaten."""
    path = tmp_path / "wide.svm"
    path.write_text(f"1 {2**40}:1\n0 2:1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "wide.h5", "--dense")
    assert (code, out) == (2, "")
    assert err.startswith(f"sgdcli: error: {path}: a dense row of 1,099,511,627,776 features (its largest feature "
                          "index) is 4.0 TiB as float32 and needs about 20.0 TiB to convert, more than the ")
    assert err.endswith(" this process may use; write it sparse (leave out --dense), or hash the features into "
                        "fewer columns with --hash-bits\n")
    assert not (tmp_path / "wide.h5").exists()
    code, out, err = cli("convert", path, "-o", tmp_path / "wide.h5", "--hash-bits", "4", "--dense")
    assert code == 0, err


@pytest.mark.parametrize("args,why,fix", [
    (["--dense", "--hash-bits", "26"], "--hash-bits 26", "leave out --dense, or give fewer --hash-bits"),
    (["--dense", "--features", str(2**26)], "--features", "write it sparse (leave out --dense), or hash the "
                                                          "features into fewer columns with --hash-bits"),
])
def test_a_dense_row_is_measured_against_the_memory_the_process_may_use(tmp_path, monkeypatch, args, why, fix):
    """Within 1 GiB (a container's limit), 2^26 float32 features make 256 MiB a row and 1.2 GiB converted."""
    monkeypatch.setattr(convert_module, "memory_limit", lambda: 1 << 30)
    path = tmp_path / "d.svm"
    path.write_text("1 1:0.5 3:2\n0 2:1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "d.h5", *args)
    assert (code, out, err) == (2, "", f"sgdcli: error: {path}: a dense row of 67,108,864 features ({why}) is 256.0 "
                                       "MiB as float32 and needs about 1.2 GiB to convert, more than the 1.0 GiB this "
                                       f"process may use; {fix}\n")


def test_a_dense_row_over_a_chunk_of_old_hdf5_is_refused(tmp_path, monkeypatch):
    """--hash-bits 30 --dense made rows of 4 GiB, each a chunk that HDF5 before 2.0 cannot read, and took 8.5 GB
    of memory before the disk filled (1.3 TB for 300 lines), as the row fits a machine's memory."""
    monkeypatch.setattr(convert_module, "memory_limit", lambda: None)
    path = tmp_path / "d.svm"
    path.write_text("1 a:0.5 b:2\n0 c:1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "d.h5", "--dense", "--hash-bits", "30")
    assert (code, out, err) == (2, "", f"sgdcli: error: {path}: a dense row of 1,073,741,824 features (--hash-bits "
                                       "30) is 4.0 GiB as float32, and HDF5 before 2.0 (in MATLAB, R and most h5py "
                                       "builds) reads no chunk of 4 GiB or more; leave out --dense, or give fewer "
                                       "--hash-bits\n")
    assert not (tmp_path / "d.h5").exists()


def test_chunk_rows_that_make_a_chunk_of_4_gib_are_refused(tmp_path):
    """--chunk-rows 10^14 was exit 1, HDF5's "memory allocation failed for chunk" blaming -o; a chunk of 4 GiB or
    more is one that HDF5 before 2.0 neither writes nor reads.  y's rows (8 bytes, the least a row takes) bound
    it before the input is read, --print-config too; class names (16 bytes a row) and a dense X's rows, once they
    are known."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n")
    most = MAX_CHUNK_BYTES // writers.ROW_BYTES
    for argv in ([], ["--print-config"]):
        code, out, err = cli("convert", path, "-o", tmp_path / "d.h5", "--chunk-rows", str(most + 1), *argv)
        assert (code, out, err) == (2, "", f"sgdcli: error: --chunk-rows {most + 1}: its chunks would be 4.0 GiB (8 "
                                           "bytes a row), and HDF5 before 2.0 (in MATLAB, R and most h5py builds) "
                                           f"reads no chunk of 4 GiB or more; give at most {most:,}\n")
    assert cli("convert", path, "-o", tmp_path / "d.h5", "--chunk-rows", str(most), "--print-config")[0] == 0
    named = tmp_path / "n.csv"  # class names: 16 bytes a row of y
    named.write_text("a,b,y\n1,2,cat\n3,4,dog\n")
    code, out, err = cli("convert", named, "-o", tmp_path / "n.h5", "--chunk-rows", str(most))
    assert (code, out, err) == (2, "", f"sgdcli: error: --chunk-rows {most}: its chunks would be 8.0 GiB (16 bytes a "
                                       "row), and HDF5 before 2.0 (in MATLAB, R and most h5py builds) reads no chunk "
                                       f"of 4 GiB or more; give at most {MAX_CHUNK_BYTES // 16:,}\n")
    assert not (tmp_path / "n.h5").exists()
    wide = tmp_path / "w.svm"  # hashed into 2^20 columns of float32: 4 MiB a row
    wide.write_text("1 a:0.5\n0 b:1\n")
    code, out, err = cli("convert", wide, "-o", tmp_path / "w.h5", "--dense", "--hash-bits", "20",
                         "--chunk-rows", "1024")
    assert (code, out, err) == (2, "", "sgdcli: error: --chunk-rows 1024: its chunks would be 4.0 GiB (4,194,304 "
                                       "bytes a row), and HDF5 before 2.0 (in MATLAB, R and most h5py builds) reads "
                                       "no chunk of 4 GiB or more; give at most 1,023\n")
    assert not (tmp_path / "w.h5").exists()
    code, _, err = cli("convert", wide, "-o", tmp_path / "w.h5", "--dense", "--hash-bits", "20", "--chunk-rows", "2")
    assert code == 0, err
    with h5py.File(tmp_path / "w.h5") as f:
        assert f["X"].chunks == (2, 2**20)


@pytest.mark.parametrize("name,text,options", [
    ("d.vw", "".join(f"{i % 2} |n a:{i} b c{i % 7}\n" for i in range(300)), {}),
    ("d.csv", "a,b,y\n" + "".join(f"{i},x{i % 7},{i % 2}\n" for i in range(300)), {"hash_bits": 16}),
])
def test_dense_output_of_hashed_rows_is_written_in_blocks_of_bounded_bytes(tmp_path, monkeypatch, name, text,
                                                                           options):
    """A dense block of hashed rows was as many rows as a sparse one: 65,536 rows of VW's 2^18 columns made a
    128 GiB array (out of memory at any size past a few thousand rows)."""
    path = tmp_path / name
    path.write_text(text)
    sizes = []
    append = writers._Dense.append
    monkeypatch.setattr(writers._Dense, "append", lambda self, n, X: sizes.append(X.n_rows) or append(self, n, X))
    convert(path, tmp_path / "dense.h5", sparse=False, compression="gzip", **options)
    convert(path, tmp_path / "sparse.h5", **options)
    width = 1 << options.get("hash_bits", 18)
    assert sum(sizes) == 300 and max(sizes) * width * 8 <= convert_module.DENSE_BLOCK_BYTES, sizes
    with h5py.File(tmp_path / "dense.h5") as d, h5py.File(tmp_path / "sparse.h5") as s:
        g = s["X"]
        rows = np.zeros((300, width), dtype=np.float32)
        for i in range(300):
            a, b = g["indptr"][i], g["indptr"][i + 1]
            rows[i, g["indices"][a:b]] = g["data"][a:b]
        assert np.array_equal(d["X"][()], rows) and np.array_equal(d["y"][()], s["y"][()])


@pytest.mark.parametrize("command,function,message", [
    ("convert", "convert", "out of memory"),
    ("info", "describe", "out of memory"),
    ("train", "train", "out of memory; lower --memory or --batch-size"),
    ("evaluate", "evaluate", "out of memory; lower --memory"),
])
def test_out_of_memory_names_only_the_options_of_the_command_that_ran(tmp_path, monkeypatch, command, function,
                                                                      message):
    """Every command said 'lower --memory or --batch-size', options convert and info do not have."""
    X, y = make_problem("binary", n=200, d=3)
    data = write_table(tmp_path / "d.h5", X, y)
    svm = tmp_path / "d.svm"
    svm.write_text("1 1:1\n0 2:1\n")
    model = tmp_path / "m.h5"
    if command == "evaluate":
        sgdcli.train(data, sgdcli.TrainOptions(epochs=5, batch_size=4)).save(model)

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(sgdcli, function, out_of_memory)
    argv = {"convert": ["convert", svm, "-o", tmp_path / "o.h5"], "info": ["info", data],
            "train": ["train", data, "-o", tmp_path / "m2.h5", "-q"], "evaluate": ["evaluate", model, data]}[command]
    assert cli(*argv) == (1, "", f"sgdcli: error: {message}\n")
