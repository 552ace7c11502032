"""--config FILE.toml, SGDCLI_<COMMAND>_<OPTION> and --print-config: precedence, checks, round trip."""

import json
import math
import re
import tomllib

import click
import pytest

from conftest import cli
from sgdcli.cli import main_group
from sgdcli import load_model


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def printed(*args):
    code, out, err = cli(*args, "--print-config")
    assert code == 0, err
    return out


def setting(out, key):
    """(value text, source) of ``key`` in --print-config output."""
    for line in out.splitlines():
        if line.startswith(f"{key} = "):
            value, _, source = line[len(key) + 3:].partition("  # ")
            return value.strip(), source.strip()
    raise AssertionError(f"{key} not in\n{out}")


def test_precedence_is_command_line_then_environment_then_file_then_default(tmp_path, monkeypatch, binary_file):
    config = write(tmp_path, "[train]\nlr = 0.05\nbatch_size = 256\nepochs = 9\n")
    monkeypatch.setenv("SGDCLI_TRAIN_LR", "0.2")
    monkeypatch.setenv("SGDCLI_TRAIN_EPOCHS", "4")
    out = printed("train", binary_file, "-o", tmp_path / "m.h5", "--config", config, "--epochs", "2")
    assert out.splitlines()[0] == "[train]"
    assert setting(out, "epochs") == ("2", "command line")  # beats environment and file
    assert setting(out, "lr") == ("0.2", "environment SGDCLI_TRAIN_LR")  # beats the file
    assert setting(out, "batch_size") == ("256", f"config {config} [train]")
    assert setting(out, "seed") == ("0", "default")
    assert not (tmp_path / "m.h5").exists()  # --print-config trains nothing


def test_wait_lock_forever_is_inf_in_a_file_and_in_a_variable(tmp_path, monkeypatch, binary_file):
    """A bare --wait-lock waits forever; a file or a variable says so with inf (docs/unattended.md)."""
    args = ("train", binary_file, "-o", tmp_path / "m.h5")
    config = write(tmp_path, "[train]\nwait_lock = inf\n")
    assert setting(printed(*args, "--config", config), "wait_lock") == ("inf", f"config {config} [train]")
    monkeypatch.setenv("SGDCLI_TRAIN_WAIT_LOCK", "inf")
    assert setting(printed(*args), "wait_lock") == ("inf", "environment SGDCLI_TRAIN_WAIT_LOCK")
    assert setting(printed(*args[:2], "-o", tmp_path / "m.h5", "--wait-lock"), "wait_lock") == ("inf", "command line")


def test_training_uses_the_file_and_the_environment(tmp_path, monkeypatch, binary_file):
    config = write(tmp_path, "[train]\nbatch_size = 7\nepochs = 1\nstandardize = true\n")
    monkeypatch.setenv("SGDCLI_TRAIN_LR", "0.03")
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "-q", "--config", config)
    assert code == 0, err
    m = load_model(tmp_path / "m.h5")
    assert m.training["batch_size"] == 7 and m.training["iterations_per_epoch"] == math.ceil(3000 / 7)
    assert m.options["lr"] == 0.03 and m.options["standardize"] is True and m.training["epochs_run"] == 1


def test_batch_size_full_and_gates_from_the_file(tmp_path, binary_file):
    config = write(tmp_path, '[train]\nbatch_size = "full"\nval_fraction = 0.2\nfail_under = "accuracy=0.5"\n'
                             'fail_over = ["loss=5", "log_loss=5"]\n')
    out = printed("train", binary_file, "-o", tmp_path / "m.h5", "--config", config)
    assert setting(out, "batch_size")[0] == '"full"'
    assert setting(out, "fail_under")[0] == '["accuracy=0.5"]'
    assert setting(out, "fail_over")[0] == '["loss=5", "log_loss=5"]'


def test_print_config_is_toml_that_reproduces_the_settings(tmp_path, monkeypatch, binary_file):
    monkeypatch.setenv("SGDCLI_TRAIN_OPTIMIZER", "adam")
    first = printed("train", binary_file, "-o", tmp_path / "m.h5", "--lr", "0.3", "--no-shuffle", "--memory", "64M")
    saved = write(tmp_path, first, "saved.toml")
    monkeypatch.delenv("SGDCLI_TRAIN_OPTIMIZER")
    again = printed("train", binary_file, "-o", tmp_path / "m.h5", "--config", saved)
    assert tomllib.loads(again) == tomllib.loads(first)
    assert tomllib.loads(first)["train"]["optimizer"] == "adam"


def test_a_variable_of_the_command_that_names_no_option_is_refused(tmp_path, monkeypatch, binary_file):
    """Click passes over it: a typo in a cron job's environment left the default in force, without a word."""
    monkeypatch.setenv("SGDCLI_TRAIN_EPOCHZ", "3")
    monkeypatch.setenv("SGDCLI_PREDICT_NOTHING", "1")  # another command's: not this one's business
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5")
    assert (code, out, err) == (2, "", "sgdcli: error: SGDCLI_TRAIN_EPOCHZ: train has no option --epochz; did you "
                                       "mean SGDCLI_TRAIN_EPOCHS?\n")
    assert not (tmp_path / "m.h5").exists()
    monkeypatch.delenv("SGDCLI_TRAIN_EPOCHZ")
    monkeypatch.setenv("SGDCLI_TRAIN_EPOCHS", "1")
    monkeypatch.setenv("SGDCLI_TRAIN_CONFIG", str(write(tmp_path, "[train]\n")))
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5")
    assert code == 0, err
    assert load_model(tmp_path / "m.h5").options["epochs"] == 1


def test_evaluate_reads_its_own_table_and_environment(tmp_path, monkeypatch, binary_file):
    model = tmp_path / "m.h5"
    assert cli("train", binary_file, "-o", model, "-q", "--epochs", "1")[0] == 0
    config = write(tmp_path, "[train]\nepochs = 3\n[evaluate]\njson = true\n")
    code, out, err = cli("evaluate", model, binary_file, "--config", config)
    assert code == 0, err
    assert set(json.loads(out)) >= {"accuracy", "auc"}
    monkeypatch.setenv("SGDCLI_EVALUATE_JSON", "1")
    code, out, _ = cli("evaluate", model, binary_file)
    assert code == 0 and json.loads(out)["rows"] == 3000


@pytest.mark.parametrize("text,message", [
    ("[train]\nbatchsize = 2\n", "{path}: [train] unknown key 'batchsize'"),
    ("[train]\nbatch-size = 2\n", "{path}: [train] unknown key 'batch-size'; did you mean 'batch_size'?"),
    ("[evaluate]\nbogus = 1\n", "{path}: [evaluate] unknown key 'bogus'"),
    ("[trian]\nlr = 1\n", "{path}: unknown table [trian] (the commands are {commands})"),
    ("lr = 1\n", "{path}: key 'lr' is outside any table; put it under [train] or another command's table"),
    ("[train]\nepochs = \"five\"\n", "{path}: [train] epochs: 'five' is not a valid integer."),
    ("[train]\noptimizer = \"adamw\"\n", "{path}: [train] optimizer: 'adamw' is not one of 'auto', 'sgd', 'momentum', 'nesterov', "
                                        "'adagrad', 'rmsprop', 'adam'."),
    ("[train]\nlr = [1, 2]\n", "{path}: [train] lr: expected one value, got a list"),
    ("[train]\nlr = \"fast\"\n", "{path}: [train] lr: 'fast' is neither a number nor 'auto'"),
    ("[train]\nbatch_size = 0.5\n", "{path}: [train] batch_size: expected a whole number, got 0.5"),
    ("[train]\nepochs = 2.5\n", "{path}: [train] epochs: expected a whole number, got 2.5"),
    ("[train]\nseed = true\n", "{path}: [train] seed: expected integer, got true"),
    # click's words were "float range" and "integer range", and a boolean's list began with an empty word
    ("[train]\nwait_lock = true\n", "{path}: [train] wait_lock: expected float, got true"),
    ("[train]\ncheckpoint_seconds = \"often\"\n", "{path}: [train] checkpoint_seconds: 'often' is not a valid float."),
    ("[train]\npage_rows = \"many\"\n", "{path}: [train] page_rows: 'many' is not a valid integer."),
    ("[train]\nstandardize = \"maybe\"\n", "{path}: [train] standardize: 'maybe' is not a valid boolean: give true "
                                         "or false (or 1 or 0, yes or no, on or off)"),
    # these were "internal error: AttributeError: 'int' object has no attribute 'strip'" and the like, exit 1
    ("[train]\nquiet = 1\n", "{path}: [train] quiet: expected boolean, got 1"),
    ("[train]\nstandardize = 1.5\n", "{path}: [train] standardize: expected boolean, got 1.5"),
    ("[evaluate]\njson = 0\n", "{path}: [evaluate] json: expected boolean, got 0"),
    ("[train]\ncheckpoint = 1\n", "{path}: [train] checkpoint: expected file, got 1"),
    ("[train]\nepochs = 1979-05-27\n", "{path}: [train] epochs: expected integer, got 1979-05-27"),
    ("[train]\nlr = 07:32:00\n", "{path}: [train] lr: expected LR|auto, got 07:32:00"),
    ("[train]\nmetrics = [\"a\", 1]\n", "{path}: [train] metrics: expected one value, got a list"),
])
def test_bad_files_are_one_line_usage_errors(tmp_path, binary_file, text, message):
    path = write(tmp_path, text)
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--config", path)
    assert (code, out) == (2, "")
    assert err.strip() == "sgdcli: error: " + message.format(path=path, commands=", ".join(sorted(main_group.commands)))
    assert not (tmp_path / "m.h5").exists()


def test_a_value_refused_after_conversion_names_where_it_came_from(tmp_path, monkeypatch, binary_file):
    """A range or data check ("--batch-size: must be >= 1") named the command-line option of a value that the
    environment or a config file had set; the option's source is said after it, the command line's left as is."""
    args = ["train", binary_file, "-o", tmp_path / "m.h5"]
    monkeypatch.setenv("SGDCLI_TRAIN_BATCH_SIZE", "0")
    assert cli(*args, "--print-config") == (2, "", "sgdcli: error: --batch-size (from SGDCLI_TRAIN_BATCH_SIZE): must "
                                                   "be >= 1 or 'full', got 0\n")
    monkeypatch.setenv("SGDCLI_TRAIN_BATCH_SIZE", "5000")
    assert cli(*args, "-q") == (2, "", f"sgdcli: error: --batch-size (from SGDCLI_TRAIN_BATCH_SIZE) 5000 is larger "
                                       f"than the 3000 training rows of {binary_file}: give one of at most 3000, or "
                                       "--batch-size full\n")
    monkeypatch.delenv("SGDCLI_TRAIN_BATCH_SIZE")
    path = write(tmp_path, "[train]\nlr = -1\n")
    assert cli(*args, "--config", path) == (2, "", f"sgdcli: error: --lr (from {path} [train] lr): must be a finite "
                                                   "number > 0 or auto, got -1.0\n")
    assert cli(*args, "--config", path, "--lr", "-2") == (2, "", "sgdcli: error: --lr: must be a finite number > 0 "
                                                                 "or auto, got -2.0\n")
    monkeypatch.setenv("SGDCLI_SWEEP_BATCH_SIZES", "32 64")
    assert cli("sweep", binary_file) == (2, "", "sgdcli: error: --batch-sizes (from SGDCLI_SWEEP_BATCH_SIZES): "
                                                "'32 64' is neither a positive integer nor 'full'\n")
    assert not (tmp_path / "m.h5").exists()


def test_unreadable_and_malformed_files(tmp_path, binary_file):
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--config", tmp_path / "none.toml")
    assert code == 2 and err.strip() == f"sgdcli: error: --config {tmp_path / 'none.toml'}: cannot read it (No such file or directory)"
    bad = write(tmp_path, "[train\nlr = 1\n")
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--config", bad)
    assert code == 2 and err.startswith(f"sgdcli: error: --config {bad}: not valid TOML (")


def test_a_file_that_is_not_utf8_text_is_not_a_toml_file(tmp_path, binary_file):
    """An HDF5 file given as the config, or a byte that is not UTF-8: one line naming the file and the line (an
    internal error before)."""
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"[train]\nepochs = 2 # caf\xe9\n")
    for path, line, byte, reason in ((binary_file, 1, "\\x89", "invalid start byte"),
                                     (latin, 2, "\\xe9", "invalid continuation byte")):
        code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--config", path)
        assert (code, out, err) == (2, "", f"sgdcli: error: --config {path}: line {line}: not UTF-8 text (bytes "
                                           f"b'{byte}': {reason}), so not a TOML file\n")
    assert not (tmp_path / "m.h5").exists()


def test_every_key_and_variable_is_the_option_name_with_underscores():
    """So that --batch-size, batch_size and SGDCLI_TRAIN_BATCH_SIZE always correspond."""
    for name, command in main_group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and param.expose_value:
                long = max(param.opts, key=len)
                assert param.name == long.lstrip("-").replace("-", "_"), (name, param.opts, param.name)


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_the_commands_defaults_are_train_options_defaults(tmp_path, binary_file, command):
    """Every training option a command takes defaults to the TrainOptions field of that name, with its help text
    (sweep's own, where train's speaks of options sweep lacks: --lr, --dask)."""
    import dataclasses

    from sgdcli.cli.train_commands import SWEEP_HELP
    from sgdcli.options import TrainOptions

    extra = ["-o", tmp_path / "m.h5"] if command == "train" else ["--batch-sizes", "32"]
    printed_defaults = tomllib.loads(printed(command, binary_file, *extra))[command]
    params = {p.name: p for p in main_group.commands[command].params}
    defaults = TrainOptions()
    checked = 0
    for field in dataclasses.fields(TrainOptions):
        name = "no_shuffle" if field.name == "shuffle" else field.name
        if name not in params:
            continue  # sweep sets the batch size and the rate itself
        value = getattr(defaults, field.name)
        expected = not value if name == "no_shuffle" else "full" if value is None and name == "batch_size" else value
        assert printed_defaults.get(name) == expected, name
        own = SWEEP_HELP.get(name) if command == "sweep" else None
        assert params[name].help == (own or field.metadata["help"]), name
        checked += 1
    assert checked >= 30


def command_line(command, tmp_path, data):
    """A command line of ``command`` that parses; its files need not exist, as the environment is checked first."""
    return [command, *{"generate": [tmp_path / "g.h5"], "info": [data], "show": [tmp_path / "m.h5"],
                       "train": [data, "-o", tmp_path / "m.h5"], "sweep": [data, "--batch-sizes", "32"],
                       "convert": [tmp_path / "in.csv", "-o", tmp_path / "out.h5"],
                       "plot": [tmp_path / "run.jsonl", "-o", tmp_path / "plot.png"],
                       "predict": [tmp_path / "m.h5", data, "-o", tmp_path / "p.h5"],
                       "evaluate": [tmp_path / "m.h5", data]}[command]]


def test_a_leftover_print_config_help_or_argument_variable_is_refused_not_obeyed(tmp_path, monkeypatch, binary_file):
    """SGDCLI_TRAIN_PRINT_CONFIG=1 left in a cron wrapper turned every run into one that printed its settings and
    exited 0 without training; SGDCLI_TRAIN_DATA was passed over.  A file refuses both keys; so does the
    environment."""
    for name, message in (("PRINT_CONFIG", "--print-config is taken only on the command line, not from the "
                                           "environment"),
                          ("HELP", "--help is taken only on the command line, not from the environment"),
                          ("DATA", "DATA is an argument of train, taken only on the command line")):
        monkeypatch.setenv(f"SGDCLI_TRAIN_{name}", "1")
        for extra in ((), ("--print-config",)):
            assert cli("train", binary_file, "-o", tmp_path / "m.h5", "-q", *extra) == (
                2, "", f"sgdcli: error: SGDCLI_TRAIN_{name}: {message}\n")
        monkeypatch.delenv(f"SGDCLI_TRAIN_{name}")
    # with DATA only in the environment (as a job meant to give it): the variable, not "Missing argument 'DATA'"
    monkeypatch.setenv("SGDCLI_TRAIN_DATA", str(binary_file))
    assert cli("train", "-o", tmp_path / "m.h5") == (2, "", "sgdcli: error: SGDCLI_TRAIN_DATA: DATA is an argument "
                                                            "of train, taken only on the command line\n")
    assert not (tmp_path / "m.h5").exists()


def test_a_byte_order_mark_opening_a_file_is_left_out(tmp_path, binary_file):
    """Some editors open UTF-8 with a byte-order mark, which TOML does not allow: the file was "not valid TOML
    (Invalid statement (at line 1, column 1))"; CSV input leaves such a mark out, and so does --config."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[train]\nepochs = 7\n")
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--config", path, "--print-config")
    assert (code, err) == (0, "") and "epochs = 7" in out, err


@pytest.mark.parametrize("command", sorted(main_group.commands))
def test_the_environment_takes_the_settings_a_file_takes_and_nothing_else(tmp_path, monkeypatch, binary_file,
                                                                          command):
    """Every parameter of every command that is not a setting of the file (its arguments, --print-config, --help),
    --config aside, is refused as a variable, before the command does anything."""
    from sgdcli.cli.config import settings

    this = main_group.commands[command]
    params = this.get_params(click.Context(this, info_name=command, parent=_group_context()))
    names = {p.name for p in params if p.name not in settings(this)} - {"config"} | {"help"}
    assert {"print_config", "help"} <= names
    (tmp_path / "out").mkdir()
    argv = command_line(command, tmp_path / "out", binary_file)
    for name in sorted(names):
        variable = f"SGDCLI_{command.upper()}_{name.upper()}"
        monkeypatch.setenv(variable, "1")
        code, out, err = cli(*argv)
        assert (code, out, err.count("\n")) == (2, "", 1), (variable, err)
        assert err.startswith(f"sgdcli: error: {variable}: "), err
        monkeypatch.delenv(variable)
    assert list((tmp_path / "out").iterdir()) == []


def _group_context() -> click.Context:
    """A context of the group with its own settings: click keeps the help option a command first makes, so one
    made in a bare context (without the group's -h) would be the help of every later test's command."""
    return click.Context(main_group, info_name="sgdcli", **main_group.context_settings)


def test_the_groups_help_and_version_never_come_from_the_environment(monkeypatch, binary_file):
    """SGDCLI_HELP (click 8.1; SGDCLI__CLICK_DEFAULT_HELP in click 8.5) made every command print the help and exit
    0."""
    help_option = main_group.get_help_option(_group_context())
    monkeypatch.setenv(f"SGDCLI_{help_option.name.upper()}", "1")
    monkeypatch.setenv("SGDCLI_VERSION", "1")
    code, out, err = cli("info", binary_file)
    assert code == 0 and out.startswith(f"{binary_file} ("), out


def test_print_config_refuses_the_variables_the_run_refuses(tmp_path, monkeypatch, binary_file):
    monkeypatch.setenv("SGDCLI_TRAIN_EPOCHZ", "3")
    assert cli("train", binary_file, "-o", tmp_path / "m.h5", "--print-config") == (
        2, "", "sgdcli: error: SGDCLI_TRAIN_EPOCHZ: train has no option --epochz; did you mean SGDCLI_TRAIN_EPOCHS?\n")


@pytest.mark.parametrize("variable,value,message", [
    ("SGDCLI_TRAIN_EPOCHS", "abc", "'abc' is not a valid integer."),
    ("SGDCLI_TRAIN_EPOCHS", "1e3", "'1e3' is not a valid integer."),
    ("SGDCLI_TRAIN_BATCH_SIZE", "0.5", "'0.5' is neither a positive integer nor 'full'"),
    ("SGDCLI_TRAIN_OPTIMIZER", "adamw", "'adamw' is not one of 'auto', 'sgd', 'momentum', 'nesterov', 'adagrad', "
                                        "'rmsprop', 'adam'."),
    ("SGDCLI_TRAIN_QUIET", "2", "'2' is not a valid boolean: give true or false (or 1 or 0, yes or no, on or off)\n"),
    ("SGDCLI_TRAIN_DASK_TIMEOUT", "soon", "'soon' is not a valid float.\n"),
    ("SGDCLI_TRAIN_CHECKPOINT_EVERY", "many", "'many' is not a valid integer.\n"),
])
def test_a_bad_value_in_a_variable_is_one_line_naming_the_variable(tmp_path, monkeypatch, binary_file, variable,
                                                                   value, message):
    """It was click's line for a command-line option (Invalid value for '--epochs'), which the command line did
    not hold; a file's bad value names the file, the table and the key."""
    monkeypatch.setenv(variable, value)
    for extra in ((), ("--print-config",)):
        code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", *extra)
        assert (code, out) == (2, "")
        assert err.startswith(f"sgdcli: error: {variable}: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "m.h5").exists()


def test_a_config_file_named_by_a_variable_is_named_by_the_variable(tmp_path, monkeypatch, binary_file):
    missing = tmp_path / "none.toml"
    monkeypatch.setenv("SGDCLI_TRAIN_CONFIG", str(missing))
    assert cli("train", binary_file, "-o", tmp_path / "m.h5") == (
        2, "", f"sgdcli: error: SGDCLI_TRAIN_CONFIG={missing}: cannot read it (No such file or directory)\n")


def test_print_config_refuses_a_setting_that_toml_cannot_hold(tmp_path, binary_file):
    """A file name that is not UTF-8 was written raw, and --config then refused the file it printed."""
    latin = str(tmp_path / "lat\udce9.h5")  # the byte 0xE9, as Python holds a name that is not UTF-8
    assert cli("train", binary_file, "-o", latin, "--print-config") == (
        2, "", f"sgdcli: error: --print-config: --output '{tmp_path}/lat\\xe9.h5' is not UTF-8 text, which TOML "
               "cannot hold, so no --config file can reproduce it\n")
    # an argument is only a comment of the file: shown, escaped
    out = printed("train", latin, "-o", tmp_path / "m.h5")
    assert f'# data = "{tmp_path}/lat\\xe9.h5"' in out and "\udce9" not in out
    saved = write(tmp_path, out, "saved.toml")
    assert tomllib.loads(printed("train", binary_file, "--config", saved)) == tomllib.loads(out)


def test_print_config_escapes_what_toml_requires_escaped(tmp_path, binary_file):
    """JSON, whose string escapes print-config used, leaves DEL as it is; TOML requires it escaped."""
    name = str(tmp_path / "a\x7fb.h5")
    out = printed("train", binary_file, "-o", name)
    assert tomllib.loads(out)["train"]["output"] == name


def test_a_sweep_grid_is_a_toml_list_and_print_config_gives_it_back(tmp_path, binary_file):
    """[sweep] batch_sizes = [16, 32] was refused ("expected one value, got a list"): only "16,32" was taken."""
    config = write(tmp_path, '[sweep]\nbatch_sizes = [16, 32.0, "full"]\nlrs = [0.05, "auto"]\nepochs = 1\n')
    code, out, err = cli("sweep", binary_file, "--config", config, "--json", "-q")
    assert code == 0, err
    runs = json.loads(out)
    assert [r["batch_size"] for r in runs] == [16, 16, 32, 32, "full", "full"]
    assert [r["lr"] for r in runs[::2]] == [0.05] * 3 and 0.05 not in [r["lr"] for r in runs[1::2]]  # auto's
    first = printed("sweep", binary_file, "--config", config)
    assert setting(first, "batch_sizes") == ('[16, 32, "full"]', f"config {config} [sweep]")
    assert setting(first, "lrs")[0] == '[0.05, "auto"]'
    saved = write(tmp_path, first, "saved.toml")
    assert tomllib.loads(printed("sweep", binary_file, "--config", saved)) == tomllib.loads(first)
    # the comma form, on the command line or in the file, prints as the same list
    assert setting(printed("sweep", binary_file, "--batch-sizes", "16, 32,FULL"), "batch_sizes")[0] == '[16, 32, "full"]'
    assert setting(printed("sweep", binary_file, "--batch-sizes", "64"), "batch_sizes")[0] == "64"


@pytest.mark.parametrize("value,message", [
    ("[]", "an empty list; give at least one value"),
    ("[16, 0]", "batch sizes must be >= 1, got 0"),
    ('[16, "big"]', "'big' is neither a positive integer nor 'full'"),
    ("[16, 2.5]", "expected a whole number, got 2.5"),
    ("[16, true]", "expected batch sizes, got true"),
])
def test_a_bad_item_of_a_grid_list_names_the_file_and_key(tmp_path, binary_file, value, message):
    config = write(tmp_path, f"[sweep]\nbatch_sizes = {value}\n")
    assert cli("sweep", binary_file, "--config", config) == (2, "", f"sgdcli: error: {config}: [sweep] batch_sizes: "
                                                                     f"{message}\n")


@pytest.mark.parametrize("command,table,message", [
    ("train", "lr = -0.1", "--lr: must be a finite number > 0 or auto, got -0.1"),
    ("train", "epochs = 0", "--epochs: must be >= 1 (0 with --init), got 0"),
    ("train", "restandardize = true", "--restandardize: applies with --init only"),
    ("train", "val = \"v.h5\"\nval_fraction = 0.1",
     "--val-fraction: cannot be combined with --val; choose one validation source"),
    ("train", "sync_every = 5", "--sync-every: applies only with --parallel average or --dask ADDRESS"),
    ("train", "restart_stale = true", "--restart-stale: applies only with --resume"),
    ("train", "fail_under = \"accuracy=0.9\"",
     "--fail-under: the gates apply to validation metrics; give --val FILE or --val-fraction F"),
    ("train", "model = \"linear\"\nval_fraction = 0.1\nfail_under = \"accuracy=0.9\"",
     "--fail-under accuracy: a linear model's validation has no such metric (it has loss, mse, rmse, mae, r2)"),
    ("train", "dask_workers = 2", "--dask-workers: applies only with --dask ADDRESS"),
    ("sweep", "quantile = 1.5", "--quantile: must be in (0, 1), got 1.5"),
    ("sweep", "init_optimizer = true", "--init-optimizer: applies with --init only"),
    ("sweep", "sync_every = 3", "--sync-every: applies only with --parallel average"),
    ("sweep", "plot = \"curves.txt\"", "--plot curves.txt: cannot tell the image format; end the name in .png, "
                                       ".pdf or .svg"),
    ("predict", "output = \"pred.txt\"", "-o pred.txt: cannot tell the format from the extension '.txt'; use "
                                          ".h5, .csv or .tsv (.csv.gz, .tsv.gz: compressed), or say which with "
                                          "--format {hdf5,csv,tsv}"),
    ("predict", "output = \"-\"\nformat = \"hdf5\"", "-o -: standard output takes csv or tsv, not hdf5"),
    ("generate", "contiguous = true\ncompression = \"gzip\"", "--compression needs a chunked layout; drop "
                                                              "--contiguous"),
    ("generate", "task = \"multiclass\"\nclasses = 5000", "--classes must be at most 1000, the most classes a "
                                                        "model takes, got 5000"),
    ("plot", "output = \"curves.txt\"", "-o curves.txt: cannot tell the image format; end the name in .png, "
                                         ".pdf or .svg"),
    ("evaluate", "fail_over = \"logloss=0.5\"", "--fail-over: unknown metric 'logloss' (known: accuracy, auc, "
                                                "below, deviance, f1, huber, log_loss, mae, mse, pinball, precision, "
                                                "r2, recall, rmse)"),
])
def test_print_config_refuses_a_setting_the_run_refuses_before_it_starts(tmp_path, command, table, message):
    """--print-config ran none of the command's own checks of its settings: a file that the nightly run would
    refuse printed, exit 0.  It refuses it now with the run's line and exit 2, and opens no file to do so:
    DATA (and MODEL) do not exist, and the run too refuses the setting before it looks for them.  The option
    that opens the line, set by the file, is followed by where: the file, table and key."""
    config = write(tmp_path, f"[{command}]\n{table}\n")
    opened = re.match(r"--([a-z-]+)|-o(?= )", message)  # (-o: the short name of --output)
    key = (opened.group(1) or "output").replace("-", "_") if opened else None
    if key is not None and f"{key} =" in table:
        message = f"{opened.group(0)} (from {config} [{command}] {key}){message[opened.end():]}"
    data = str(tmp_path / "absent.h5")
    args = {"train": ("train", data, "-o", tmp_path / "m.h5"), "sweep": ("sweep", data, "--batch-sizes", "8"),
            "evaluate": ("evaluate", tmp_path / "absent-model.h5", data),
            "predict": ("predict", tmp_path / "absent-model.h5", data),
            "generate": ("generate", tmp_path / "g.h5"), "plot": ("plot", tmp_path / "absent.jsonl")}[command]
    for extra in (("--print-config",), ()):
        assert cli(*args, "--config", config, *extra) == (2, "", f"sgdcli: error: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]
