"""Input files cut short, rewritten or replaced while a run reads them: exit 1, one line, no model.

HDF5's default driver reads zeros past the end of a file, so a file cut short
under a run that reads it through HDF5 (chunk-read, filtered or big-endian
data; not memory-mapped) was trained on as rows of zeros, and the run ended 0
with a model.  The files here are big-endian and chunked, read through
buffers: truncating a memory-mapped file would kill the test process.
"""

import os
import shutil

import h5py
import pytest

from conftest import cli, make_problem

TAIL = "; the model was not written; run again once its writer has finished"


def big_endian(path, n=20000, d=8, seed=0):
    X, y = make_problem("binary", n=n, d=d, seed=seed)
    with h5py.File(path, "w") as f:
        f.create_dataset("y", data=y.astype(">i8"), chunks=(2000,))
        f.create_dataset("X", data=X.astype(">f8"), chunks=(2000, d))
    return str(path)


def cut(path) -> tuple[int, int]:
    """Cut ``path`` to half its size, as `truncate -s` does; returns the sizes before and after."""
    size = os.path.getsize(path)
    os.truncate(path, size // 2)
    return size, size // 2


def test_a_file_cut_short_mid_run_stops_it_and_writes_no_model(tmp_path, monkeypatch):
    from sgdcli.reporting.plain import PlainReporter

    data = big_endian(tmp_path / "be.h5")
    sizes = []
    advance = PlainReporter.advance

    def cut_once(self, *args, **kwargs):  # the first kernel call's progress: in epoch 1 of 3
        if not sizes:
            sizes.extend(cut(data))
        return advance(self, *args, **kwargs)

    monkeypatch.setattr(PlainReporter, "advance", cut_once)
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "--epochs", "3", "--no-shuffle",
                         "--progress", "plain")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (f"sgdcli: error: {data}: changed while it was being read (size {sizes[0]} → "
                                    f"{sizes[1]} bytes){TAIL}")
    assert sorted(os.listdir(tmp_path)) == ["be.h5"]  # no model, no checkpoint of what trained on zeros


def test_a_change_between_the_passes_before_training_is_seen(tmp_path, monkeypatch):
    from sgdcli.reporting.plain import PlainReporter

    data = big_endian(tmp_path / "be.h5")
    sizes = []
    message = PlainReporter.message

    def cut_after_the_label_pass(self, text):
        if text.startswith("computing feature means"):
            sizes.extend(cut(data))
        return message(self, text)

    monkeypatch.setattr(PlainReporter, "message", cut_after_the_label_pass)
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "--progress", "plain")
    assert code == 1 and sizes, err
    assert err.splitlines()[-1] == (f"sgdcli: error: {data}: changed while it was being read (size {sizes[0]} → "
                                    f"{sizes[1]} bytes){TAIL}")
    assert "training on" not in err
    assert sorted(os.listdir(tmp_path)) == ["be.h5"]


def test_a_val_file_replaced_mid_run_stops_it_and_its_earlier_checkpoint_stays_refused(tmp_path):
    """A checkpoint saved before the change continues the data as it was: kept, and refused by --resume
    against the file now there."""
    import sgdcli
    from sgdcli.errors import RuntimeFailure
    from sgdcli.options import TrainOptions
    from sgdcli.reporting.reporter import Reporter

    data, val = big_endian(tmp_path / "be.h5"), big_endian(tmp_path / "val.h5", n=4000, seed=1)
    model = tmp_path / "m.h5"
    shutil.copy(val, tmp_path / "new.h5")
    inodes = [os.stat(val).st_ino, os.stat(tmp_path / "new.h5").st_ino]

    class ReplaceAfterEpoch2(Reporter):
        def epoch_end(self, record):
            if record["epoch"] == 2:
                os.replace(tmp_path / "new.h5", val)  # as `mv new.h5 val.h5` does

    opts = TrainOptions(epochs=3, val=val, shuffle=False)
    with pytest.raises(RuntimeFailure) as raised:
        sgdcli.train(data, opts, output=model, reporter=ReplaceAfterEpoch2(),
                     control=sgdcli.RunControl(checkpoint=f"{model}.ckpt"))
    assert raised.value.exit_code == 1
    assert str(raised.value) == (f"--val {val}: was replaced by another file while it was being read (inode "
                                 f"{inodes[0]} → {inodes[1]}){TAIL}")
    assert sorted(os.listdir(tmp_path)) == ["be.h5", "m.h5.ckpt", "val.h5"]  # epoch 1's
    code, _, err = cli("train", data, "-o", model, "--epochs", "3", "--val", val, "--no-shuffle", "--resume")
    assert code == 2 and "--resume: the data changed since checkpoint" in err and "val.mtime" in err, err


def test_an_init_model_written_to_mid_run_stops_it(tmp_path, monkeypatch):
    from sgdcli.reporting.plain import PlainReporter

    data = big_endian(tmp_path / "be.h5")
    init = tmp_path / "m0.h5"
    assert cli("train", data, "-o", init, "--epochs", "1", "-q")[0] == 0
    touched = []
    advance = PlainReporter.advance

    def touch_once(self, *args, **kwargs):
        if not touched:
            st = os.stat(init)
            os.utime(init, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
            touched.append(True)
        return advance(self, *args, **kwargs)

    monkeypatch.setattr(PlainReporter, "advance", touch_once)
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "--init", init, "--epochs", "2",
                         "--progress", "plain")
    assert (code, out) == (1, ""), err
    last = err.splitlines()[-1]
    assert last.startswith(f"sgdcli: error: --init {init}: changed while it was being read (modification time ")
    assert last.endswith(TAIL)
    assert sorted(os.listdir(tmp_path)) == ["be.h5", "m0.h5"]


def test_predict_on_a_file_cut_short_mid_pass_writes_nothing(tmp_path):
    import sgdcli
    from sgdcli.errors import RuntimeFailure
    from sgdcli.options import TrainOptions

    data = big_endian(tmp_path / "be.h5")
    model = sgdcli.train(data, TrainOptions(epochs=1))
    sizes = []

    def cut_once(done, total):
        if not sizes:
            sizes.extend(cut(data))

    with pytest.raises(RuntimeFailure) as raised:
        sgdcli.predict(model, data, tmp_path / "p.csv", memory=2**20, progress=cut_once)
    assert str(raised.value) == (f"{data}: changed while it was being read (size {sizes[0]} → {sizes[1]} bytes); "
                                 "the predictions were not written; run again once its writer has finished")
    assert sorted(os.listdir(tmp_path)) == ["be.h5"]



@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_compressed_file_cut_short_mid_pass_is_a_change_not_bad_input(tmp_path, command):
    """A gzip chunk past the cut reads as zeros, which do not decode: the read failed with exit 2, "cannot read
    rows ... (incomplete or truncated stream)", as if the file were bad, where train said the file changed (exit 1,
    which a cron wrapper retries)."""
    import sgdcli
    from sgdcli.errors import RuntimeFailure
    from sgdcli.options import TrainOptions

    X, y = make_problem("binary", n=20000, d=8, seed=0)
    data = str(tmp_path / "gz.h5")
    with h5py.File(data, "w") as f:
        f.create_dataset("y", data=y, chunks=(2000,), compression="gzip")
        f.create_dataset("X", data=X, chunks=(2000, 8), compression="gzip")
    model = sgdcli.train(data, TrainOptions(epochs=1))
    sizes = []

    def cut_once(done, total):
        if not sizes:
            sizes.extend(cut(data))

    run = (lambda: sgdcli.predict(model, data, tmp_path / "p.csv", memory=2**20, progress=cut_once)) \
        if command == "predict" else (lambda: sgdcli.evaluate(model, data, memory=2**20, progress=cut_once))
    with pytest.raises(RuntimeFailure) as raised:
        run()
    consequence = "the predictions were not written" if command == "predict" else "no metrics were printed"
    assert str(raised.value) == (f"{data}: changed while it was being read (size {sizes[0]} → {sizes[1]} bytes); "
                                 f"{consequence}; run again once its writer has finished")
    assert sorted(os.listdir(tmp_path)) == ["gz.h5"]
