"""Atomic file replacement: write beside the destination, then rename onto it.

An error, Ctrl-C or SIGTERM part-way leaves the destination as it was (or absent)
and no temporary file behind; the new file gets the permissions the old one had, or
those a plain ``open()`` would give, not ``mkstemp``'s 0600.

A writer that dies without cleaning up (``kill -9``, a node lost, power) leaves its
temporary file: a hidden name that no input pattern or output check takes for a
file of the program's, and which records the writer's process and host
(``.out.fits.~4242@node07~k2j3h4g5.tmp``). The next write into that folder removes
the temporary files whose writer, on this host, is gone (as does a batch into that folder,
even one with nothing left to write).
"""

import contextlib
import logging
import os
import re
import socket
import tempfile

from ..errors import EnhanceError

log = logging.getLogger(__name__)

__all__ = [
    "atomic_path", "check_output_folder", "clean_folder", "is_temporary", "new_file_mode", "remove_stale_temporaries",
]

# ".<name>.~<pid>@<host>~<mkstemp's 8 random characters><suffix>"
_TEMPORARY = re.compile(r"^\..*\.~(?P<pid>\d+)@(?P<host>[^~/]+)~[a-z0-9_]{8}")
_CLEANED = set()  # folders this process has already cleaned


def _host():
    # '~' and '/' separate the name's fields; a host name holds neither, but be sure.
    return re.sub(r"[~/]", "_", socket.gethostname()) or "localhost"


def is_temporary(name):
    """True for the name of a temporary file of :func:`atomic_path` (any writer)."""
    return _TEMPORARY.match(os.path.basename(os.fspath(name))) is not None


def _writer_is_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def remove_stale_temporaries(folder):
    """Remove the temporary files in ``folder`` whose writer (a process on this host) is gone.

    Files of writers on other hosts (a shared file system) and of live processes are
    left alone. Returns the paths removed.
    """
    removed = []
    host = _host()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None or match["host"] != host or not _writer_is_gone(int(match["pid"])):
            continue
        path = os.path.join(folder, name)
        try:
            os.remove(path)
        except OSError:
            continue  # another run removed it first, or it is not ours to remove
        removed.append(path)
        log.info("removed %s, left by an interrupted run (process %s)", path, match["pid"])
    return removed


def clean_folder(folder):
    """:func:`remove_stale_temporaries` in ``folder`` (a batch calls it for its output folders); the
    writes that follow in this process then need not look again."""
    folder = os.path.abspath(os.fspath(folder))
    if os.path.isdir(folder):
        remove_stale_temporaries(folder)
        _CLEANED.add(folder)


def new_file_mode(destination):
    """Permissions for a file replacing ``destination``: its own, else the umask default."""
    try:
        return os.stat(destination).st_mode & 0o7777
    except OSError:
        # os.umask can only be read by setting it; set it straight back.
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path, *, suffix=".tmp"):
    """Yield a temporary path in ``path``'s folder; when the block succeeds, move it onto ``path``.

    The first use of a folder in a process removes the temporary files that dead
    writers left there (:func:`remove_stale_temporaries`).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder is created if needed.
    suffix : str
        Ending of the temporary name (some writers insist on one, e.g. Keras's
        ``.weights.h5``).

    Raises
    ------
    OSError
        When the folder cannot be created or written; callers turn it into a
        user-facing error naming the file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if folder not in _CLEANED:  # the first write into a folder in this process
        clean_folder(folder)
    prefix = f".{os.path.basename(path)}.~{os.getpid()}@{_host()}~"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_output_folder(path):
    """Fail before the (long) prediction when ``path`` cannot be written: a folder, a path
    under a file, a folder that cannot be created or written.

    Nothing is created: the writer makes the missing folders, so a run that fails
    leaves none behind.
    """
    if os.path.isdir(path):
        raise EnhanceError("output is a folder, not a file (give a file name)", path=path)
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):  # the nearest folder that exists is where it would be made
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise EnhanceError(f"cannot create the output folder ({existing} is a file)", path=path)
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "output folder is not writable" if existing == folder else f"cannot create the output folder " \
            f"({existing} is not writable)"
        raise EnhanceError(what, path=path)
