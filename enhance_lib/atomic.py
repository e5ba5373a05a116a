"""Atomic file replacement: write beside the destination, then rename onto it.

A crash or an error part-way leaves the destination as it was (or absent) and no
temporary file behind; the new file gets the permissions the old one had, or
those a plain ``open()`` would give, not ``mkstemp``'s 0600.
"""

import contextlib
import os
import tempfile

__all__ = ["atomic_path", "new_file_mode"]


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
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
