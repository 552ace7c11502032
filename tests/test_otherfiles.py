"""Datasets stored in other files: a virtual dataset (VDS) whose sources are missing or were never written, and
external raw files missing or cut short, are refused like rows never written, not read as fill values."""

import os

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.data.unwritten import unwritten
from sgdcli.options import TrainOptions

from conftest import cli, make_problem, reader_argv, run_process, write_table

COMMANDS = ("train", "predict", "evaluate")
PARTS, ROWS, D = 4, 2500, 5
HINT = "the file looks incomplete (--allow-unwritten reads their fill values)"


def write_vds(folder, written=None):
    """PARTS files of ROWS rows each and vds.h5 mapping their X and y end to end; ``written``: part -> rows its
    (chunked) datasets got before the writer stopped."""
    folder.mkdir(exist_ok=True)
    X, y = make_problem("binary", n=PARTS * ROWS, d=D, seed=5)
    for i in range(PARTS):
        part = slice(i * ROWS, (i + 1) * ROWS)
        with h5py.File(folder / f"part{i}.h5", "w") as f:
            xs = f.create_dataset("X", shape=(ROWS, D), chunks=(250, D), dtype="f4")
            ys = f.create_dataset("y", shape=(ROWS,), chunks=(250,), dtype="i8")
            k = (written or {}).get(i, ROWS)
            xs[:k], ys[:k] = X[part][:k], y[part][:k]
    lx = h5py.VirtualLayout(shape=(PARTS * ROWS, D), dtype="f4")
    ly = h5py.VirtualLayout(shape=(PARTS * ROWS,), dtype="i8")
    for i in range(PARTS):
        lx[i * ROWS:(i + 1) * ROWS] = h5py.VirtualSource(f"part{i}.h5", "X", shape=(ROWS, D))
        ly[i * ROWS:(i + 1) * ROWS] = h5py.VirtualSource(f"part{i}.h5", "y", shape=(ROWS,))
    with h5py.File(folder / "vds.h5", "w") as f:
        f.create_virtual_dataset("X", lx, fillvalue=0)
        f.create_virtual_dataset("y", ly, fillvalue=0)
    return str(folder / "vds.h5")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    X, y = make_problem("binary", n=2000, d=D, seed=3)
    assert cli("train", write_table(d / "plain.h5", X, y), "-o", d / "m.h5", "-q")[0] == 0
    return d / "m.h5"


def refused(command, data, model, tmp_path, message, *extra):
    code, out, err = cli(*reader_argv(command, data, model, tmp_path, "out.csv"), *extra)
    assert (code, out, err.strip()) == (2, "", f"sgdcli: error: {message}")
    assert not (tmp_path / "out.h5").exists() and not (tmp_path / "out.csv").exists()


def test_a_complete_vds_is_read_from_anywhere(tmp_path, model):
    """The sources are found beside the VDS file, as HDF5 finds them, whatever the current directory."""
    data = write_vds(tmp_path / "vds")
    assert os.getcwd() != str(tmp_path / "vds")
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "-q")
    assert code == 0, err
    with h5py.File(data) as f:
        assert unwritten(f["X"]) is None and unwritten(f["y"]) is None


@pytest.mark.parametrize("command", COMMANDS)
def test_a_vds_whose_source_files_are_missing_is_refused(tmp_path, model, command):
    data = write_vds(tmp_path / "vds")
    for i in (2, 3):
        os.remove(tmp_path / "vds" / f"part{i}.h5")
    refused(command, data, model, tmp_path,
            f"{data}:X: rows 5,000–7,499 come from part2.h5, which is missing; rows 7,500–9,999 come from part3.h5, "
            f"which is missing (2 of 4 sources lack data); {HINT}")


def test_each_source_lacking_data_is_named_with_its_own_rows(tmp_path, model):
    """Rows never written in one source, next to the rows of a missing one, were all blamed on the first:
    "rows 6,000–9,999 were never written in their source part2.h5:X". Past three sources, the rest are
    counted."""
    data = write_vds(tmp_path / "vds", written={2: 1000})
    os.remove(tmp_path / "vds" / "part3.h5")
    refused("train", data, model, tmp_path,
            f"{data}:X: rows 6,000–7,499 were never written in their source part2.h5:X (6 of 10 chunks "
            f"unallocated); rows 7,500–9,999 come from part3.h5, which is missing (2 of 4 sources lack data); {HINT}")
    for i in (0, 1, 2):
        os.remove(tmp_path / "vds" / f"part{i}.h5")
    refused("train", data, model, tmp_path,
            f"{data}:X: rows 0–2,499 come from part0.h5, which is missing; rows 2,500–4,999 come from part1.h5, "
            f"which is missing; rows 5,000–7,499 come from part2.h5, which is missing; 2,500 more rows lack data in "
            f"1 more source (4 of 4 sources lack data); {HINT}")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_vds_over_a_source_never_fully_written_is_refused(tmp_path, model, command):
    data = write_vds(tmp_path / "vds", written={3: 1000})
    refused(command, data, model, tmp_path, f"{data}:X: rows 8,500–9,999 were never written in their source "
                                            f"part3.h5:X (6 of 10 chunks unallocated); {HINT}")


def test_allow_unwritten_reads_a_missing_sources_fill_values(tmp_path):
    data = write_vds(tmp_path / "vds")
    os.remove(tmp_path / "vds" / "part1.h5")
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "--allow-unwritten")
    assert code == 0, err
    assert f"--allow-unwritten: 2,500 rows of {data} are read from fill values" in err


def test_a_source_dataset_missing_from_its_file_and_info(tmp_path):
    data = write_vds(tmp_path / "vds")
    with h5py.File(tmp_path / "vds" / "part0.h5", "a") as f:
        f.move("X", "X_old")
    message = f"{data}:X: rows 0–2,499 come from part0.h5:X, which is not in that file; {HINT}"
    assert cli("train", data, "-o", tmp_path / "m.h5")[2].strip() == f"sgdcli: error: {message}"
    code, out, err = cli("info", data)
    assert code == 0 and "2,500 rows never written" in out and f"not trainable as they are: {message}" in out


def test_rows_follow_strided_and_partial_mappings_and_nested_vds(tmp_path, monkeypatch):
    """Source rows never written are placed where the mapping puts them: every other row, a part of a
    source, and through a VDS whose own source is missing."""
    monkeypatch.chdir(tmp_path)
    with h5py.File("a.h5", "w") as f:
        f["X"] = np.ones((10, 2), "f4")
    with h5py.File("b.h5", "w") as f:
        f.create_dataset("X", shape=(10, 2), chunks=(5, 2), dtype="f4")[:5] = 1.0  # rows 5-9 never written
    strided = h5py.VirtualLayout(shape=(20, 2), dtype="f4")
    strided[0::2] = h5py.VirtualSource("a.h5", "X", shape=(10, 2))
    strided[1::2] = h5py.VirtualSource("b.h5", "X", shape=(10, 2))
    part = h5py.VirtualLayout(shape=(8, 2), dtype="f4")
    part[0:4] = h5py.VirtualSource("b.h5", "X", shape=(10, 2))[6:10]
    part[4:8] = h5py.VirtualSource("b.h5", "X", shape=(10, 2))[0:4]
    middle = h5py.VirtualLayout(shape=(20, 2), dtype="f4")
    middle[:10] = h5py.VirtualSource("a.h5", "X", shape=(10, 2))
    middle[10:] = h5py.VirtualSource("gone.h5", "X", shape=(10, 2))
    with h5py.File("v.h5", "w") as f:
        f.create_virtual_dataset("strided", strided)
        f.create_virtual_dataset("part", part)
        f.create_virtual_dataset("middle", middle)
    outer = h5py.VirtualLayout(shape=(20, 2), dtype="f4")
    outer[:] = h5py.VirtualSource("v.h5", "middle", shape=(20, 2))
    with h5py.File("outer.h5", "w") as f:
        f.create_virtual_dataset("X", outer)
    with h5py.File("v.h5") as f:
        np.testing.assert_array_equal(unwritten(f["strided"]).ranges, [[11, 12], [13, 14], [15, 16], [17, 18],
                                                                      [19, 20]])
        np.testing.assert_array_equal(unwritten(f["part"]).ranges, [[0, 4]])
    with h5py.File("outer.h5") as f:
        got = unwritten(f["X"])
        np.testing.assert_array_equal(got.ranges, [[10, 20]])
        assert got.message("outer.h5:X") == ("outer.h5:X: rows 10–19 lack data in their source v.h5:middle (rows "
                                             f"10–19 come from gone.h5, which is missing); {HINT}")


def test_sources_in_the_same_file_are_checked_and_the_file_stays_open(tmp_path):
    X, y = make_problem("binary", n=1000, d=D, seed=2)
    with h5py.File(tmp_path / "same.h5", "w") as f:
        f["parts/X"], f["y"] = X, y
        f.create_dataset("parts/late", shape=(1000, D), chunks=(100, D), dtype="f4")[:600] = X[:600]
        for name, source in (("X", "parts/X"), ("Z", "parts/late"), ("W", "parts/gone")):
            layout = h5py.VirtualLayout(shape=(1000, D), dtype="f4")
            layout[:] = h5py.VirtualSource(".", source, shape=(1000, D))
            f.create_virtual_dataset(name, layout)
    path = str(tmp_path / "same.h5")
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "-q")
    assert code == 0, err
    code, out, err = cli("train", path, "--x", "Z", "-o", tmp_path / "m.h5")
    assert err.strip() == (f"sgdcli: error: {path}:Z: rows 600–999 were never written in their source "
                           f"same.h5:parts/late (4 of 10 chunks unallocated); {HINT}")
    code, out, err = cli("train", path, "--x", "W", "-o", tmp_path / "m.h5")
    assert err.strip() == (f"sgdcli: error: {path}:W: rows 0–999 come from same.h5:parts/gone, which is not in that "
                           f"file; {HINT}")


def write_external(folder, keep_bytes=None, raw="X.raw"):
    """X in an external raw file, y plain; ``keep_bytes``: the raw file cut to that many bytes."""
    folder.mkdir(exist_ok=True)
    X, y = make_problem("binary", n=10_000, d=D, seed=7)
    data = X.tobytes()
    (folder / raw).write_bytes(data if keep_bytes is None else data[:keep_bytes])
    with h5py.File(folder / "ext.h5", "w") as f:
        f.create_dataset("X", shape=X.shape, dtype="f4", external=[(raw, 0, h5py.h5f.UNLIMITED)])
        f["y"] = y
    return str(folder / "ext.h5")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_external_raw_file_cut_short_is_refused_with_the_bytes_it_lacks(tmp_path, model, command, monkeypatch):
    data = write_external(tmp_path / "ext", keep_bytes=100_000)
    monkeypatch.chdir(tmp_path / "ext")  # where HDF5 looks for the raw file
    refused(command, data, model, tmp_path, f"{data}:X: rows 5,000–9,999 were never written: external raw file "
                                            "X.raw lacks 100,000 of the 200,000 bytes declared; the file looks "
                                            "incomplete (--allow-unwritten reads zeros)")  # HDF5's, past the end


def test_a_missing_external_raw_file_is_refused_even_with_allow_unwritten(tmp_path, model, monkeypatch):
    data = write_external(tmp_path / "ext")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("HDF5_EXTFILE_PREFIX", raising=False)
    message = (f"{data}:X: rows 0–9,999 are in external raw file X.raw, which is missing (looked for as "
               f"{elsewhere}/X.raw; HDF5 looks in the current directory unless HDF5_EXTFILE_PREFIX names another, "
               "${ORIGIN} the file's); the file looks incomplete")
    refused("train", data, model, tmp_path, message)
    refused("train", data, model, tmp_path, message, "--allow-unwritten")
    # HDF5 reads the prefix as the library starts: a new process, which looks beside the file as told
    proc = run_process("train", data, "-o", tmp_path / "out.h5", "-q", env={"HDF5_EXTFILE_PREFIX": "${ORIGIN}"})
    assert proc.returncode == 0, proc.stderr


def test_a_complete_external_file_trains_as_the_plain_copy(tmp_path, monkeypatch):
    data = write_external(tmp_path / "ext")
    monkeypatch.chdir(tmp_path / "ext")
    with h5py.File(data) as f:
        assert unwritten(f["X"]) is None
        plain = write_table(tmp_path / "plain.h5", f["X"][()], f["y"][()])
    opts = dict(epochs=2, shuffle=False, threads=1)
    np.testing.assert_array_equal(train(data, TrainOptions(**opts)).weights, train(plain, TrainOptions(**opts)).weights)


def test_rows_no_mapping_covers_are_refused_as_never_written(tmp_path, model, monkeypatch):
    """A VDS whose mappings leave rows (or some columns of rows) uncovered reads HDF5's fill value there: it
    was trained on as zeros, exit 0."""
    monkeypatch.chdir(tmp_path)
    X, y = make_problem("binary", n=1000, d=3, seed=4)
    for i in range(4):
        with h5py.File(f"part{i}.h5", "w") as f:
            f["X"] = X[i * 250:(i + 1) * 250]
    hole = h5py.VirtualLayout(shape=(1000, 3), dtype="f4")
    for i in range(3):
        hole[i * 250:(i + 1) * 250] = h5py.VirtualSource(f"part{i}.h5", "X", shape=(250, 3))
    hole[750:900] = h5py.VirtualSource("part3.h5", "X", shape=(250, 3))[:150]  # rows 900-999: no source at all
    corner = h5py.VirtualLayout(shape=(1000, 3), dtype="f4")
    for i in range(4):
        corner[i * 250:(i + 1) * 250, :2] = h5py.VirtualSource(f"part{i}.h5", "X", shape=(250, 3))[:, :2]
        if i < 2:
            corner[i * 250:(i + 1) * 250, 2] = h5py.VirtualSource(f"part{i}.h5", "X", shape=(250, 3))[:, 2]
    with h5py.File("v.h5", "w") as f:
        f.create_virtual_dataset("X", hole, fillvalue=0)
        f.create_virtual_dataset("corner", corner, fillvalue=0)
        f["y"] = y
    refused("train", "v.h5", model, tmp_path,
            f"v.h5:X: rows 900–999 have no source (no mapping of the virtual dataset covers them); {HINT}")
    code, out, err = cli("train", "v.h5", "--x", "corner", "-o", tmp_path / "m.h5")
    assert (code, err.strip()) == (2, "sgdcli: error: v.h5:corner: rows 500–999 have no source in some of their "
                                      f"columns (no mapping of the virtual dataset covers those); {HINT}")
    code, out, err = cli("train", "v.h5", "-o", tmp_path / "m.h5", "--allow-unwritten")
    assert code == 0 and "--allow-unwritten: 100 rows of v.h5 are read from fill values" in err
    with h5py.File("v.h5") as f:
        assert "100 rows never written" in cli("info", "v.h5")[1]
        np.testing.assert_array_equal(f["X"][900:], 0)


def test_a_column_source_never_fully_written_is_refused(tmp_path, model, monkeypatch):
    """One file per column (1-D sources mapped into the columns of a 2-D VDS): a column whose writer died
    after 600 rows was read through the VDS as fill values, since sources of another rank were passed over."""
    monkeypatch.chdir(tmp_path)
    X, y = make_problem("binary", n=1000, d=3, seed=4)
    for j in range(3):
        with h5py.File(f"col{j}.h5", "w") as f:
            c = f.create_dataset("c", shape=(1000,), chunks=(100,), dtype="f4")
            c[:600 if j == 1 else 1000] = X[:600 if j == 1 else 1000, j]
    layout = h5py.VirtualLayout(shape=(1000, 3), dtype="f4")
    for j in range(3):
        layout[:, j] = h5py.VirtualSource(f"col{j}.h5", "c", shape=(1000,))
    with h5py.File("cols.h5", "w") as f:
        f.create_virtual_dataset("X", layout, fillvalue=0)
        f["y"] = y
    refused("train", "cols.h5", model, tmp_path, "cols.h5:X: rows 600–999 were never written in their source "
                                                 f"col1.h5:c (4 of 10 chunks unallocated); {HINT}")
    with h5py.File("col1.h5", "a") as f:
        f["c"][600:] = X[600:, 1]
    assert cli("train", "cols.h5", "-o", tmp_path / "m.h5", "-q")[0] == 0  # complete: trained on


def test_a_source_shorter_than_its_mapping_is_named_with_its_rows(tmp_path, model, monkeypatch):
    """HDF5 fails the read of a source shorter than its mapping (one still being appended to) with its own
    text, naming neither the source nor the rows; --allow-unwritten cannot read it either."""
    monkeypatch.chdir(tmp_path)
    X, y = make_problem("binary", n=1000, d=3, seed=4)
    for i in range(4):
        with h5py.File(f"part{i}.h5", "w") as f:
            f["X"] = X[i * 250:(i + 1) * 250 - (50 if i == 2 else 0)]
    layout = h5py.VirtualLayout(shape=(1000, 3), dtype="f4")
    for i in range(4):
        layout[i * 250:(i + 1) * 250] = h5py.VirtualSource(f"part{i}.h5", "X", shape=(250, 3))
    with h5py.File("v.h5", "w") as f:
        f.create_virtual_dataset("X", layout, fillvalue=0)
        f["y"] = y
    message = ("v.h5:X: rows 700–749 come from part2.h5:X, which has 200 rows where the mapping reads 250 (a "
               "source still being written, or cut short); the file looks incomplete")
    for extra in ((), ("--allow-unwritten",)):
        refused("train", "v.h5", model, tmp_path, message, *extra)
