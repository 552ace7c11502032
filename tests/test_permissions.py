"""Output files get the permissions a plain open() would give them: 0666 less the umask when new; when they
replace a file, that file's mode and group.  (A model written by a cron user must be readable by a serving
process running as another user, as the umask says.)"""

import os
import stat

import pytest

from conftest import cli, make_problem, write_table


@pytest.fixture
def umask():
    """Set the process's umask for the test (the CLI runs in this process), and restore it after."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_umask(value):
        os.umask(value)

    yield set_umask
    os.umask(saved)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def ok(*args):
    code, out, err = cli(*args)
    assert code == 0, err


def write_every_kind(d, data):
    """Run each command that writes files, into d; return every file they wrote."""
    ok("generate", d / "gen.h5", "--rows", "500", "--features", "4")
    ok("train", data, "-o", d / "m.h5", "--epochs", "3", "--metrics", d / "m.jsonl", "--keep-checkpoint", "-q")
    ok("predict", d / "m.h5", data, "-o", d / "p.h5")
    ok("predict", d / "m.h5", data, "-o", d / "p.csv")
    (d.parent / "in.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(50)))
    ok("convert", d.parent / "in.csv", "-o", d / "conv.h5")
    ok("sweep", data, "--batch-sizes", "64", "--epochs", "1", "--metrics-dir", d / "runs", "-q")
    outputs = ["gen.h5", "m.h5", "m.jsonl", "m.h5.ckpt", "m.h5.ckpt.prev", "p.h5", "p.csv", "conv.h5"]
    return [d / name for name in outputs] + sorted((d / "runs").iterdir())


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_outputs_get_0666_less_the_umask(tmp_path, umask, mask, expected):
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=600, d=4, seed=3))
    out = tmp_path / "out"
    out.mkdir()
    umask(mask)
    written = write_every_kind(out, data)
    assert len(written) == 9
    assert {p.name: oct(mode(p)) for p in written} == {p.name: oct(expected) for p in written}
    assert [p for p in os.listdir(out) if p.endswith(".tmp")] == []


def test_a_plot_gets_0666_less_the_umask(tmp_path, umask):
    pytest.importorskip("matplotlib")
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=600, d=4, seed=3))
    ok("train", data, "-o", tmp_path / "m.h5", "--epochs", "2", "--metrics", tmp_path / "m.jsonl", "-q")
    umask(0o027)
    ok("plot", tmp_path / "m.jsonl", "-o", tmp_path / "curves.png")
    assert oct(mode(tmp_path / "curves.png")) == oct(0o640)


def test_a_replaced_output_keeps_its_mode(tmp_path, umask):
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=600, d=4, seed=3))
    out = tmp_path / "out"
    out.mkdir()
    umask(0o077)  # what a new file would get: 0600, unlike every mode below
    modes = {"gen.h5": 0o644, "m.h5": 0o640, "m.jsonl": 0o604, "m.h5.ckpt": 0o660, "p.h5": 0o644,
             "p.csv": 0o664, "conv.h5": 0o444}
    for name, wanted in modes.items():
        (out / name).write_bytes(b"an earlier file")
        (out / name).chmod(wanted)
    write_every_kind(out, data)
    assert {name: oct(mode(out / name)) for name in modes} == {name: oct(wanted) for name, wanted in modes.items()}
    assert (out / "m.h5").read_bytes() != b"an earlier file"
    assert oct(mode(out / "m.h5.ckpt.prev")) == oct(0o660)  # the checkpoint before it, renamed


def test_a_replaced_output_keeps_its_group_where_the_process_may_set_it(tmp_path, umask):
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=600, d=4, seed=3))
    mine = os.getegid()
    others = [g for g in ((1, 2) if os.geteuid() == 0 else os.getgroups()) if g != mine]
    if not others:
        pytest.skip("this user may set no group but its own")
    ok("train", data, "-o", tmp_path / "m.h5", "--epochs", "1", "-q")
    target = tmp_path / "p.h5"
    target.write_bytes(b"an earlier file")
    os.chown(target, -1, others[0])
    target.chmod(0o640)
    ok("predict", tmp_path / "m.h5", data, "-o", target)
    assert (os.stat(target).st_gid, oct(mode(target))) == (others[0], oct(0o640))
