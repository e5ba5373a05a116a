"""Progress over many files: a bar on a terminal, whole lines in a log.

On a terminal (or in a notebook) progress is a tqdm bar, and while it runs the console
log handlers of the library, of ``distributed`` and of the root logger write through
``tqdm.write``, so that an error line never lands on the bar's line. When stderr is a
file or a pipe (a batch job's log), a bar's carriage returns would glue its last state
to the next message: progress goes instead as INFO log records of one line each
(``enhancing: 3/6 files (12 s)``), which the programs' log handler writes to stderr.
"""

import contextlib
import logging
import math
import sys
import time

from tqdm.auto import tqdm
from tqdm.autonotebook import tqdm as auto_tqdm
from tqdm.contrib.logging import logging_redirect_tqdm
from tqdm.std import tqdm as std_tqdm

log = logging.getLogger(__name__)

__all__ = ["LineProgress", "file_progress", "stderr_is_terminal"]


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

    A line for every file of a batch of up to 100 files, for every 1 % of a larger one,
    and always one for the last; none for the files counted as done from the start
    (``initial``: skipped ones).

    Parameters
    ----------
    total : int
        Files in the batch.
    initial : int
        Files done before it starts.
    desc : str
        What the lines begin with.
    """

    def __init__(self, total, *, initial=0, desc="enhancing"):
        self.total, self.n, self.desc = int(total), int(initial), desc
        self._step = max(1, math.ceil(self.total / 100))
        self._start = time.perf_counter()

    def update(self, n=1):
        """Count ``n`` more files done; log a line when a step (or the last file) is reached."""
        if n <= 0:
            return
        before, self.n = self.n, self.n + n
        if self.n >= self.total or self.n // self._step > before // self._step:
            log.info("%s: %d/%d files (%.0f s)", self.desc, self.n, self.total, time.perf_counter() - self._start)

    def close(self):
        """Nothing to clear: every line is complete."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _TerminalProgress:
    """A tqdm bar; while it is open, console log lines are written with ``tqdm.write``."""

    def __init__(self, total, *, initial, desc):

        loggers = [logging.getLogger(__name__.partition(".")[0]), logging.getLogger()]
        if "distributed" in sys.modules:  # the nanny's lines when a worker dies
            loggers.append(logging.getLogger("distributed"))
        self._stack = contextlib.ExitStack()
        self._bar = self._stack.enter_context(tqdm(total=total, initial=initial, unit="file", desc=desc))
        self._stack.enter_context(logging_redirect_tqdm(loggers, tqdm_class=tqdm))

    def update(self, n=1):
        """Count ``n`` more files done."""
        self._bar.update(n)

    def close(self):
        """Give the console handlers back, then close the bar (its line ends)."""
        self._stack.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
        (with console logging through ``tqdm.write`` while it is open) when stderr is a
        terminal or in a notebook, a disabled tqdm when not ``enabled``, else a
        :class:`LineProgress` (its lines are INFO records of this module's logger: a
        Python caller sees them once logging is configured).
    """
    if not enabled:

        return tqdm(total=total, initial=initial, disable=True)
    if stderr_is_terminal() or _in_notebook():
        return _TerminalProgress(total, initial=initial, desc=desc)
    return LineProgress(total, initial=initial, desc=desc)
