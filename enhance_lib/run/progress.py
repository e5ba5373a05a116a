"""Progress over a batch's files or an image's tiles: a bar on a terminal, whole lines in a log.

On a terminal (or in a notebook) progress is a tqdm bar, and while it runs the console
log handlers of the library, of ``distributed`` and of the root logger, and the warnings
shown on stderr, write through ``tqdm.write``, so that an error or warning line never
lands on the bar's line. When stderr is a file or a pipe (a batch job's log), a bar's
carriage returns would glue its last state to the next message: progress goes instead as
INFO log records of one line each (``enhancing: 3/6 files (12 s)``), which the programs'
log handler writes to stderr. :func:`file_progress` (the batch) and :func:`tile_progress`
(one image's tiles) are the one mechanism, with their units.
"""

import contextlib
import logging
import math
import sys
import time
import warnings

from tqdm.auto import tqdm
from tqdm.autonotebook import tqdm as auto_tqdm
from tqdm.contrib.logging import logging_redirect_tqdm
from tqdm.std import tqdm as std_tqdm

log = logging.getLogger(__name__)

__all__ = ["LineProgress", "file_progress", "stderr_is_terminal", "tile_progress"]


def stderr_is_terminal():
    """True when ``sys.stderr`` is a terminal (False for a file, a pipe or a closed stream)."""
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stderr (pythonw), or closed
        return False


def _in_notebook():
    """True when ``tqdm.auto`` draws notebook widgets (they share no line with messages)."""

    return auto_tqdm is not std_tqdm


class LineProgress:
    """Progress as whole INFO log lines: ``enhancing: 3/6 files (12 s)``.

    A line for every item up to ``lines`` items, for every 1/``lines`` of more (a batch's
    files: a line each up to 100 files, one per 1 % beyond; an image's tiles: one per
    10 %), and always one for the last; none for the items counted as done from the start
    (``initial``: skipped files).

    Parameters
    ----------
    total : int
        Items (files, tiles) to do.
    initial : int
        Items done before it starts.
    desc : str
        What the lines begin with.
    unit : str
        What the items are, in the plural.
    lines : int
        The most lines it writes (beyond those, one per step of ``total / lines`` items).
    """

    def __init__(self, total, *, initial=0, desc="enhancing", unit="files", lines=100):
        self.total, self.n, self.desc, self.unit = int(total), int(initial), desc, unit
        self._step = max(1, math.ceil(self.total / lines))
        self._start = time.perf_counter()

    def update(self, n=1):
        """Count ``n`` more items done; log a line when a step (or the last item) is reached."""
        if n <= 0:
            return
        before, self.n = self.n, self.n + n
        if self.n >= self.total or self.n // self._step > before // self._step:
            log.info("%s: %d/%d %s (%.0f s)", self.desc, self.n, self.total, self.unit,
                     time.perf_counter() - self._start)

    def close(self):
        """Nothing to clear: every line is complete."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _TerminalProgress:
    """A tqdm bar; while it is open, console log lines and the warnings shown on stderr are
    written with ``tqdm.write``."""

    def __init__(self, total, *, initial, desc, unit, leave):

        loggers = [logging.getLogger(__name__.partition(".")[0]), logging.getLogger()]
        if "distributed" in sys.modules:  # the nanny's lines when a worker dies
            loggers.append(logging.getLogger("distributed"))
        self._stack = contextlib.ExitStack()
        self._bar = self._stack.enter_context(tqdm(total=total, initial=initial, unit=unit, desc=desc, leave=leave))
        self._stack.enter_context(logging_redirect_tqdm(loggers, tqdm_class=tqdm))
        self._stack.enter_context(_warnings_through_tqdm())

    def update(self, n=1):
        """Count ``n`` more items done."""
        self._bar.update(n)

    def close(self):
        """Give the console handlers and the warnings' display back, then close the bar (its
        line ends, or is cleared for a bar that does not stay)."""
        self._stack.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def _warnings_through_tqdm():
    """Within the block, a warning shown on stderr is written with ``tqdm.write`` (above the
    bar), as :func:`warnings.formatwarning` formats it (the programs: one line)."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if file is not None and file is not sys.stderr:
            previous(message, category, filename, lineno, file, line)
            return
        tqdm.write(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")

    warnings.showwarning = show
    try:
        yield
    finally:
        if warnings.showwarning is show:
            warnings.showwarning = previous


def _progress(total, *, initial, enabled, desc, unit, lines, leave):
    """The one mechanism of :func:`file_progress` and :func:`tile_progress`."""
    if not enabled:

        return tqdm(total=total, initial=initial, disable=True)
    if stderr_is_terminal() or _in_notebook():
        return _TerminalProgress(total, initial=initial, desc=desc, unit=unit, leave=leave)
    return LineProgress(total, initial=initial, desc=desc, unit=unit + "s", lines=lines)


def file_progress(total, *, initial=0, enabled=True, desc="enhancing"):
    """Progress over ``total`` files, suited to where stderr goes.

    Parameters
    ----------
    total : int
        Files in the batch.
    initial : int
        Files done before it starts (skipped ones).
    enabled : bool
        False: nothing is shown.
    desc : str
        The bar's (or the lines') label.

    Returns
    -------
    object
        With ``update(n=1)`` and ``close()``, usable as a context manager: a tqdm bar
        (with console logging and warnings through ``tqdm.write`` while it is open) when
        stderr is a terminal or in a notebook, a disabled tqdm when not ``enabled``, else
        a :class:`LineProgress` (its lines are INFO records of this module's logger: a
        Python caller sees them once logging is configured).
    """
    return _progress(total, initial=initial, enabled=enabled, desc=desc, unit="file", lines=100, leave=True)


def tile_progress(total, *, enabled=True, desc="enhancing"):
    """Progress over the ``total`` tiles of one image, as :func:`file_progress` shows files:
    a bar that is cleared when done on a terminal, else a line per 10 % of the tiles
    (``enhancing: 4/40 tiles (3 s)``)."""
    return _progress(total, initial=0, enabled=enabled, desc=desc, unit="tile", lines=10, leave=False)
