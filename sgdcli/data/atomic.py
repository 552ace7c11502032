"""Outputs appear whole or not at all, with the permissions a plain ``open()`` would give them.

Each output is written to a temporary file beside its target, fsynced, then
renamed into place; on any failure the temporary file is removed and an
existing file at the target is left untouched.  A new output gets the mode
``open()`` would give it (0666 less the umask, or the directory's default
ACL: the kernel applies them as it creates the temporary file); an output
that replaces a file keeps that file's mode and, where the process may
change it, its group.  An output path that is a symbolic link is written
through: the file the link leads to is replaced (the temporary file is made
in that file's directory and renamed over it), and the link stays.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile

from sgdcli.errors import EMPTY_PATH, InputError, RuntimeFailure
from sgdcli.sizes import format_size

LOCK_SUFFIX = ".lock"  # a run locks an output PATH with PATH.lock (training/locking.py): no output may be one


def written_path(path: str | os.PathLike) -> str:
    """The file an output at ``path`` replaces: ``path`` as given or, where it is a symbolic link, the file the
    link leads to (through every link on the way, made absolute), whether or not that file exists yet.

    Renaming the new file over the link itself would replace the link by a
    regular file and leave the file it leads to as it was: with the usual
    ``models/current.h5 -> /srv/models/2026-12-01.h5``, the model served
    would never change.  The output replaces the file the link leads to, so
    the link stays, and the lock of a run (training/locking.py) guards that
    file, whichever path names it.
    """
    path = os.fspath(path)
    return os.path.realpath(path) if os.path.islink(path) else path


def check_space(path: str | os.PathLike, need: int, option: str = "-o") -> None:
    """RuntimeFailure where the filesystem of ``path``'s directory has fewer than ``need`` bytes free to its
    user: said before the work, not as "No space left on device" once the work is done.  The file is written
    whole beside ``path`` before it replaces it, so a file already there frees nothing."""
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(written_path(path)))).free
    if need > free:
        raise RuntimeFailure(f"{option} {os.fspath(path)}: the file will take about {format_size(need)}, and its "
                             f"filesystem has {format_size(free)} free; make room there, or write it elsewhere")


def check_writable(path: str | os.PathLike, option: str = "-o", inputs=(), probe: bool = True) -> str:
    """Fail early, before any work, if ``path`` cannot be written or would replace one of ``inputs``.  The
    directory is tried by creating (and removing) a file in it, or, without ``probe`` (--print-config, which
    creates nothing), by its permissions alone (``os.access``: not an ACL's or a network filesystem's say)."""
    path = os.fspath(path)
    if path == "":
        raise InputError(f"{option}: {EMPTY_PATH}")
    if path == "-":  # (predict's -o - is standard output, and never comes here)
        raise InputError(f"{option} -: names standard output, which this output cannot go to (it is written whole "
                         "to a file, then renamed into place); give a file name (./- for a file named '-')")
    if os.path.isdir(path):
        raise InputError(f"{option} {path}: is a directory")
    if path.endswith(("/", os.sep)):
        raise InputError(f"{option} {path}: ends in '/', so it names a directory; give a file name")
    _refuse_relative_to_nothing(path, option)
    target = written_path(path)
    if os.path.islink(target):  # realpath stops where the links go round in a loop
        raise InputError(f"{option} {path}: is a symbolic link in a loop of links, which leads to no file")
    named = path if target == path else f"{path} (a symbolic link to {target})"
    _refuse_lock(named, target, option)
    _refuse_special(path, option)
    for source in inputs:
        if source is not None and os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
            raise InputError(f"{option} {path}: is also an input of this command; choose another output path")
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        _refuse_missing_directory(named, directory, option)
    _refuse_long_name(named, target, option)
    _check_permitted(named, directory, option, probe)
    return path


def _check_permitted(named: str, directory: str, option: str, probe: bool) -> None:
    """``directory`` takes a new file: tried by creating one in it (``probe``), else by its permissions."""
    if probe:
        _probe(named, directory, option)
    elif not os.access(directory, os.W_OK | os.X_OK):
        why = errno.EROFS if os.statvfs(directory).f_flag & os.ST_RDONLY else errno.EACCES
        raise InputError(f"{option} {named}: cannot write to directory {directory} ({os.strerror(why)})")


def check_directory(path: str | os.PathLike, option: str, probe: bool = True) -> str:
    """Fail early if ``path`` cannot be an output directory; create it (and its parents) if it is missing.
    Without ``probe`` (--print-config) nothing is created: the directory, or the nearest one there of those it
    would be created in, is judged by its permissions."""
    path = os.fspath(path)
    if path == "":
        raise InputError(f"{option}: {EMPTY_PATH}")
    _refuse_relative_to_nothing(path, option)
    directory = os.path.abspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise InputError(f"{option} {path}: is not a directory")
    if not os.path.isdir(directory):
        _refuse_missing_directory(path, directory, option, create=True)
        if not probe:
            while not os.path.isdir(directory):
                directory = os.path.dirname(directory)
            _check_permitted(path, directory, option, probe)
            return path
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{option} {path}: cannot create directory {directory} ({exc.strerror})") from None
    _check_permitted(path, directory, option, probe)
    return path


@contextlib.contextmanager
def output_directory(path: str | os.PathLike, option: str):
    """``check_directory``'s directory while the block runs; the directories it created (``path`` and its missing
    parents) are removed again where the block left nothing in them (a command stopped or failed before its
    first file): a run leaves no empty directory behind."""
    _refuse_relative_to_nothing(os.fspath(path), option)
    created, directory = [], os.path.abspath(os.fspath(path))
    while not os.path.lexists(directory) and os.path.dirname(directory) != directory:
        created.append(directory)  # innermost first
        directory = os.path.dirname(directory)
    check_directory(path, option)
    try:
        yield os.fspath(path)
    finally:
        for directory in created:
            try:
                os.rmdir(directory)  # only if empty
            except OSError:
                break


def _refuse_relative_to_nothing(path: str, option: str) -> None:
    """A relative ``path`` where the working directory was removed (a release directory a deploy replaced under
    a cron job's ``cd``) names nowhere: os.getcwd() fails, and every absolute path made of it did too."""
    if os.path.isabs(path):
        return
    try:
        os.getcwd()
    except FileNotFoundError:
        raise InputError(f"{option} {path}: is a relative path, and the working directory it is relative to no "
                         "longer exists (removed after the command was started in it); give an absolute path, "
                         "or start the command in a directory that exists") from None


def _refuse_missing_directory(path: str, directory: str, option: str, create: bool = False) -> None:
    """``directory`` is not there: name the file in its way, if one is, else (unless it is to be created) say so."""
    ancestor = directory
    while not os.path.lexists(ancestor) and os.path.dirname(ancestor) != ancestor:
        ancestor = os.path.dirname(ancestor)
    if os.path.lexists(ancestor) and not os.path.isdir(ancestor):
        what = "is a file, not a directory" if os.path.isfile(ancestor) else "is not a directory"
        raise InputError(f"{option} {path}: {ancestor} {what}")
    if not create:
        raise InputError(f"{option} {path}: directory {directory} does not exist")


def _probe(path: str, directory: str, option: str) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".sgdcli-probe-", dir=directory)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write to directory {directory} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _refuse_lock(named: str, target: str, option: str) -> None:
    """A file named ``*.lock`` is where a run locks an output (``PATH.lock``): renaming an output over one a run
    holds would leave its ``flock`` on a file no longer there, and the next run on PATH would lock (and empty)
    the output instead, so such a name is refused whether or not a run holds it now."""
    if os.path.basename(target).endswith(LOCK_SUFFIX):
        guarded = os.path.basename(target)[:-len(LOCK_SUFFIX)] or "PATH"
        raise InputError(f"{option} {named}: ends in {LOCK_SUFFIX}, as the lock file a run takes beside its output "
                         f"does ({guarded}{LOCK_SUFFIX} for {guarded}); choose another output path")


def _refuse_long_name(named: str, target: str, option: str) -> None:
    """An output is written as a temporary file whose name is the output's and more (``_temporary_name``, which
    is longer than any other name made of it: a lock file, a checkpoint's .prev): a name the filesystem takes
    may be one it would refuse halfway through the work, so it is measured against the filesystem's limits
    first."""
    directory, name = os.path.split(os.path.abspath(target))
    try:
        name_max = os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):  # a filesystem that does not say: the write itself will
        return
    extra = len(os.fsencode(_temporary_name("", "0" * 8)))
    if len(os.fsencode(name)) + extra > name_max:
        raise InputError(f"{option} {named}: the file name is too long for this filesystem (names of at most "
                         f"{name_max} bytes): the output is first written under a temporary name {extra} bytes "
                         f"longer ({_temporary_name('NAME', 'XXXXXXXX')}); give a name of at most "
                         f"{name_max - extra} bytes")


def _refuse_special(path: str, option: str) -> None:
    """An output replaces what is at its path by renaming a new file over it: a device (/dev/null), a pipe
    or a socket there would be replaced by a regular file (as root, /dev/null itself), so they are refused."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise InputError(f"{option} {path}: is not a regular file (a device, a pipe or a socket), which an output "
                         "would replace; give the path of a file")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, option: str = "-o"):
    """Yield a temporary path; on success fsync it and rename it to ``path`` (to the file it leads to, where it is
    a symbolic link: ``written_path``)."""
    path = os.path.abspath(written_path(path))
    _refuse_lock(path, path, option)
    _refuse_special(path, option)
    directory, name = os.path.split(path)
    _remove_abandoned(directory, name)
    try:
        tmp = _create_temporary(directory, name)
        _copy_ownership(path, tmp)
    except OSError as exc:  # check_writable saw a directory it could write to; this is a failure while writing
        raise RuntimeFailure(f"{option} {path}: write failed: {describe_os_error(exc)} (making its temporary file in "
                             f"{directory}); nothing was written") from None
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _copy_ownership(path, tmp)  # the file may have changed (or, for a checkpoint, moved to .prev) since
        os.replace(tmp, path)
        _fsync_dir(directory)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RuntimeFailure(f"{option} {path}: write failed: {describe_os_error(exc)}; nothing was written") from None
        raise


def _host() -> str:
    return socket.gethostname().replace(os.sep, "_")


def _owner_tag() -> str:
    """Who writes a temporary file: this host and process (``_remove_abandoned`` reads it back)."""
    return f"{_host()}-{os.getpid()}"


def _remove_abandoned(directory: str, name: str) -> None:
    """Delete the temporary files for ``name`` that a process of this host left when it was killed outright
    (SIGKILL, the out-of-memory killer): their owner's process is gone, so nothing will ever rename or remove
    them, and a nightly job killed night after night would pile them up.  Another host's, a live process's and
    those of versions that did not name their owner are left alone."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        pid = _owner(entry, re.escape(name))
        if pid is not None and not _alive(pid):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, entry))


def in_use(entry: str) -> bool:
    """Whether the temporary file named ``entry`` (``.NAME.HOST-PID-XXXXXXXX.tmp``) belongs to a live process
    of this host: another run writing a file whose name begins as this one's (``a`` and ``a.h5``), which a
    run that locks ``a`` must not take for its own killed run's leftover."""
    pid = _owner(entry, ".*")
    return pid is not None and _alive(pid)


def _owner(entry: str, name: str) -> int | None:
    """The process of this host whose temporary file (``_create_temporary``'s name, for a file whose name
    matches the pattern ``name``) ``entry`` is, or None where it is not one."""
    found = re.match(rf"^\.{name}\.{re.escape(_host())}-(\d+)-[0-9a-f]{{8}}\.tmp$", entry)
    return int(found.group(1)) if found else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: alive
        return True
    return True


def _create_temporary(directory: str, name: str) -> str:
    """A new empty ``.NAME.HOST-PID-XXXXXXXX.tmp`` in ``directory`` (the names locking.remove_stale_temporaries
    removes, and ``_remove_abandoned`` once their process is gone).

    Created as ``open()`` creates a new file: mode 0666, for the kernel to
    apply the umask (or the directory's default ACL) to, which reads no umask
    and so races no thread.  If it will replace a file it is created private
    instead, and ``_copy_ownership`` gives it that file's mode: what was
    private never shows to others, even for a moment.
    """
    mode = 0o600 if _regular_file(os.path.join(directory, name)) else 0o666
    while True:
        tmp = os.path.join(directory, _temporary_name(name, secrets.token_hex(4)))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _temporary_name(name: str, token: str) -> str:
    return f".{name}.{_owner_tag()}-{token}.tmp"


def _regular_file(path: str) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _copy_ownership(path: str, tmp: str) -> None:
    """Give ``tmp`` the permission bits of the file at ``path``, and its group where allowed (nothing if there
    is no file there)."""
    old = _regular_file(path)
    if old is None:
        return
    if os.stat(tmp).st_gid != old.st_gid:
        with contextlib.suppress(OSError):  # only root or a member of the group may
            os.chown(tmp, -1, old.st_gid)
    os.chmod(tmp, stat.S_IMODE(old.st_mode) & 0o777)


def describe_os_error(exc: OSError) -> str:
    """The system's words for an OSError (HDF5 wraps errno in long texts)."""
    if exc.errno:
        return os.strerror(exc.errno)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
