"""Disk errors while writing: exit 1, one line, no partial output, previous file intact."""

import errno
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import cli, make_problem, run_process, short_fits, write_table


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs, which needs root; elsewhere the fault-hook test below covers the writer."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def assert_write_failure(proc, path, option="-o"):
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line == f"sgdcli: error: {option} {path}: write failed: No space left on device; nothing was written"
    assert "Traceback" not in proc.stderr


def test_full_disk_leaves_no_partial_output(tiny_fs, tmp_path):
    X, y = make_problem("multiclass", n=3000, d=400, k=10, seed=0)  # a 32 KB model, too big beside the old one
    data = write_table(tmp_path / "wide.h5", X, y)
    small_X, small_y = make_problem("multiclass", n=300, d=5, k=10, seed=0)
    small = write_table(tmp_path / "small.h5", small_X, small_y)
    model = tiny_fs / "m.h5"
    run_process("train", small, "-o", model, "--model", "softmax", "-q", check=True)
    previous = model.read_bytes()
    filler = tiny_fs / "filler"
    filler.write_bytes(b"\0" * (64 * 1024 - len(previous) - 16 * 1024))
    proc = run_process("train", data, "-o", model, "--model", "softmax", "--epochs", "1", "-q")
    assert_write_failure(proc, model)
    assert model.read_bytes() == previous
    assert sorted(os.listdir(tiny_fs)) == ["filler", "m.h5"]
    filler.unlink()
    # (lzf: the size of a compressed file is not known before it is written, so generate begins it)
    for argv, out in ((["generate", tiny_fs / "g.h5", "--rows", "100000", "--compression", "lzf"], tiny_fs / "g.h5"),
                      (["predict", model, small, "-o", tiny_fs / "p.h5", "--proba"], None)):
        if out is None:  # predictions for 300 rows fit; make them not fit
            big = write_table(tmp_path / "many.h5", *make_problem("multiclass", n=20000, d=5, k=10, seed=1))
            argv = ["predict", model, big, "-o", tiny_fs / "p.h5", "--proba"]
            out = tiny_fs / "p.h5"
        assert_write_failure(run_process(*argv), out, "OUTPUT" if argv[0] == "generate" else "-o")
        assert sorted(os.listdir(tiny_fs)) == ["m.h5"]


@pytest.mark.parametrize("layout,stored_rows", [(["--contiguous"], 100_000), (["--chunk-rows", "30000"], 120_000)])
def test_generate_says_a_disk_without_room_before_it_writes(monkeypatch, tmp_path, layout, stored_rows):
    """An uncompressed file's size is known before it is begun: float32 X and 8-byte labels, each chunk written
    whole.  With a byte less free than that, the disk is named before anything is written, not as "No space
    left on device" once it is full."""
    need = stored_rows * (4 * 10 + 8)
    code, _, err = cli("generate", tmp_path / "g.h5", "--rows", "100000", "--features", "10", *layout)
    assert code == 0, err
    assert need <= (tmp_path / "g.h5").stat().st_size < need + 64 * 1024  # the estimate is the file's size
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=need - 1))
    code, out, err = cli("generate", tmp_path / "h.h5", "--rows", "100000", "--features", "10", *layout)
    assert (code, out) == (1, "")
    assert err == (f"sgdcli: error: OUTPUT {tmp_path / 'h.h5'}: the file will take about {need / 2**20:.1f} MiB, "
                   f"and its filesystem has {(need - 1) / 2**20:.1f} MiB free; make room there, or write it "
                   "elsewhere\n")
    assert sorted(os.listdir(tmp_path)) == ["g.h5"]


@short_fits
def test_fault_hook_in_the_writer(monkeypatch, tmp_path, binary_file):
    """An I/O error at fsync time: RuntimeFailure, no temporary file, the old file kept."""
    from sgdcli import train
    from sgdcli.data import atomic
    from sgdcli.errors import RuntimeFailure
    from sgdcli.options import TrainOptions

    out = tmp_path / "m.h5"
    out.write_bytes(b"old model")

    def failing_fsync(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(RuntimeFailure, match=r"-o .*m\.h5: write failed: Input/output error; nothing was written"):
        train(binary_file, TrainOptions(epochs=1), output=out)
    assert out.read_bytes() == b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.h5", "m.h5"]


@short_fits
def test_a_read_error_while_writing_does_not_poison_the_output(tmp_path, binary_file):
    """Bad input met mid-write closes the output normally: no quarantine, no hard exit."""
    from sgdcli import predict, train
    from sgdcli.data import newhdf5
    from sgdcli.errors import InputError
    from sgdcli.options import TrainOptions

    model = train(binary_file, TrainOptions(epochs=1))
    X, y = make_problem("binary", n=5000, d=6, seed=0)
    X[4900, 1] = np.nan
    bad = write_table(tmp_path / "bad.h5", X, y, chunks=256)
    with pytest.raises(InputError, match="non-finite feature value at row 4900"):
        predict(model, bad, tmp_path / "p.h5", memory=2**20)
    assert not newhdf5.quarantined()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5", "binary.h5"]


def run_with_file_limit(tmp_path, kib, *args):
    """The CLI in a subprocess under ``ulimit -f kib``: every write past that size fails with EFBIG
    (Python ignores SIGXFSZ), as on a full disk, on any filesystem and without root."""
    import resource
    import sys

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))

    env = dict(os.environ)
    env.pop("SGDCLI_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "sgdcli", *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)


@pytest.mark.parametrize("argv", [
    ["generate", "g.h5", "--rows", "5000"],  # every chunk still in HDF5's cache until the file is closed
    ["generate", "g.h5", "--rows", "60000", "--contiguous"],
    ["convert", "big.npy", "-o", "g.h5", "--label-column", "4"],  # fails while appending a block
    ["convert", "big.npy", "-o", "g.h5", "--label-column", "4", "--compression", "gzip"],
    ["convert", "big.npy", "-o", "g.h5", "--label-column", "4", "--sparse"],
], ids=["generate-cached", "generate-contiguous", "convert", "convert-gzip", "convert-sparse"])
def test_a_failed_write_ends_with_exit_1_not_a_crash(tmp_path, argv):
    """HDF5 objects of the failed file, freed with the traceback after the error was printed, crashed the
    process (SIGSEGV, SIGBUS: exit 139, 135)."""
    data = np.random.default_rng(0).standard_normal((20000, 5))
    data[:, 4] = data[:, 4] > 0
    np.save(tmp_path / "big.npy", data)
    proc = run_with_file_limit(tmp_path, 20, *argv)
    assert proc.returncode == 1, proc.stderr
    option = "OUTPUT" if argv[0] == "generate" else "-o"  # generate's is an argument
    assert proc.stderr.splitlines() == [
        f"sgdcli: error: {option} {tmp_path / 'g.h5'}: write failed: File too large; nothing was written"]
    assert sorted(os.listdir(tmp_path)) == ["big.npy"]


def test_a_lock_file_that_cannot_be_written_is_one_line_and_is_removed(monkeypatch, tmp_path, binary_file):
    """A full disk when train writes its PID into the checkpoint's lock file was "internal error: OSError" and
    left the empty lock file behind; the output's lock, taken first, is released as well."""
    from conftest import cli

    real_write = os.write

    def full_for_the_checkpoint_lock(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".ckpt.lock"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_for_the_checkpoint_lock)
    model = tmp_path / "m.h5"
    code, out, err = cli("train", binary_file, "-o", model, "--epochs", "1")
    assert (code, out) == (1, "")
    assert err == (f"sgdcli: error: --checkpoint {model}.ckpt: write failed: No space left on device (its lock file "
                   f"{model}.ckpt.lock); nothing was written\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.h5"]


@pytest.mark.parametrize("option,hook", [("--checkpoint", "epoch_start"), ("-o", "epoch_end")])
def test_a_write_that_fails_mid_run_is_exit_1_not_a_refused_path(monkeypatch, tmp_path, binary_file, option, hook):
    """The output directory removed while train ran: the checkpoint or the model it then failed to write was
    reported as an output path refused before any work, exit 2, where it is a failure while writing, exit 1."""
    import shutil

    from conftest import run
    from sgdcli.reporting.plain import PlainReporter

    out = tmp_path / "out"
    out.mkdir()
    real = getattr(PlainReporter, hook)

    def remove_the_directory(self, arg):
        if hook == "epoch_end" or arg == 1:  # the model, once its last epoch is done; the second epoch's checkpoint
            shutil.rmtree(out, ignore_errors=True)
        return real(self, arg)

    monkeypatch.setattr(PlainReporter, hook, remove_the_directory)
    epochs = "3" if option == "--checkpoint" else "1"
    proc = run("train", binary_file, "-o", out / "m.h5", "--epochs", epochs, "--progress", "plain")
    assert proc.returncode == 1, proc.stderr
    path = out / "m.h5.ckpt" if option == "--checkpoint" else out / "m.h5"
    assert proc.stderr.splitlines()[-1] == (f"sgdcli: error: {option} {path}: write failed: No such file or directory "
                                            f"(making its temporary file in {out}); nothing was written")
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize("dtype,itemsize", [("float32", 4), ("float64", 8)])
def test_convert_of_a_npy_file_says_a_disk_without_room_before_it_writes(monkeypatch, tmp_path, dtype, itemsize):
    """An uncompressed dense conversion of a .npy file is the one whose size is known before it begins: X in
    --dtype and 8-byte labels a row, in chunks written whole (30,000 rows: 4 chunks of 10,000)."""
    X = np.random.default_rng(0).standard_normal((30_000, 11))
    np.save(tmp_path / "a.npy", X)
    args = ["--label-column", "10", "--dtype", dtype, "--chunk-rows", "10000"]
    need = 30_000 * (10 * itemsize + 8)
    code, _, err = cli("convert", tmp_path / "a.npy", "-o", tmp_path / "g.h5", *args)
    assert code == 0, err
    assert need <= (tmp_path / "g.h5").stat().st_size < need + 64 * 1024  # the estimate is the file's size
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=need - 1))
    code, out, err = cli("convert", tmp_path / "a.npy", "-o", tmp_path / "h.h5", *args)
    assert (code, out) == (1, "")
    assert err == (f"sgdcli: error: -o {tmp_path / 'h.h5'}: the file will take about {need / 2**20:.1f} MiB, "
                   f"and its filesystem has {(need - 1) / 2**20:.1f} MiB free; make room there, or write it "
                   "elsewhere\n")
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "g.h5"]
    assert cli("convert", tmp_path / "a.npy", "-o", tmp_path / "h.h5", *args, "--compression", "gzip")[0] == 0
