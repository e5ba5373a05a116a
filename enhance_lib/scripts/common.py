"""What the command-line programs share: one-line errors and warnings, logging, quiet mode,
and signals handled as Ctrl-C is."""

import argparse
import contextlib
import logging
import re
import signal
import sys
import threading
import warnings

from ..errors import EnhanceError, EnhanceWarning

__all__ = ["OneLineParser", "Terminated", "as_flags", "run_cli", "run_program", "setup_logging"]


def as_flags(text, flags=None):
    """A library message with its backticked parameter names shown as the program's flags.

    ```pixel_scale``` becomes ``--pixel-scale``; ``flags`` maps the names whose flag is
    spelled otherwise (``{"filters": "--kernels"}``).

    Examples
    --------
    >>> as_flags("`pixel_scale` is required with `truth`")
    '--pixel-scale is required with --truth'
    >>> as_flags("`filters` must be >= 1", {"filters": "--kernels"})
    '--kernels must be >= 1'
    """
    flags = flags or {}
    return re.sub(r"`([A-Za-z_][A-Za-z0-9_]*)`",
                  lambda m: flags.get(m.group(1), "--" + m.group(1).replace("_", "-")), str(text))


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


class _FlagFormatter(logging.Formatter):
    """Log lines with the library's backticked parameter names shown as the program's flags,
    and an error record (a batch's file that failed) begun as :func:`run_cli`'s error line is,
    ``enhance: error: ...``."""

    def __init__(self, flags, prog=None):
        super().__init__("%(message)s")
        self.flags = flags
        self.prog = prog

    def format(self, record):
        text = as_flags(super().format(record), self.flags)
        if self.prog and record.levelno >= logging.ERROR:
            text = f"{self.prog}: error: {text}"
        return text


def setup_logging(*, quiet=False, verbose=False, flags=None, prog=None):
    """Send the library's log records to stderr: INFO by default, WARNING if quiet.

    ``flags`` as for :func:`run_cli`: parameters named in log lines are shown as flags;
    ``prog``: error records begin ``PROG: error:``, as the program's own error line.
    """
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logger = logging.getLogger("enhance_lib")
    logger.handlers[:] = []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_FlagFormatter(flags, prog))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (SLURM's time limit, ``timeout``, ``kill``, a closed terminal), raised in
    the main thread as Ctrl-C's KeyboardInterrupt is, so that the same clean-up runs (temporary
    files removed, a batch's finished files reported).

    Attributes
    ----------
    signum : int
        The signal; the program exits with 128 + signum (143 for SIGTERM).
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum

    def __str__(self):
        return signal.Signals(self.signum).name


#: The signals that end a run cleanly: SIGINT as KeyboardInterrupt, the others as Terminated.
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _signals_as_interrupts():
    """Within the block, the first of :data:`_SIGNALS` raises KeyboardInterrupt (SIGINT) or
    :class:`Terminated`; a second one while that unwinds is ignored, so the clean-up it runs
    (removing a temporary file, finishing a write) is not cut short. Only in the main
    thread, where Python runs signal handlers. A signal that is ignored stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if fired:
            return
        fired.append(signum)
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)

    # A signal ignored by whoever started us stays ignored (nohup's SIGHUP, a background job's SIGINT).
    previous = {signum: signal.signal(signum, handler) for signum in _SIGNALS
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


def run_cli(prog, func, args, *, flags=None):
    """Run ``func(args)`` and turn user errors into one line on stderr and exit code 2.

    Parameters
    ----------
    prog : str
        Program name for the error line (``enhance: error: ...``).
    func : callable
        The work; returns an exit code or None.
    args : argparse.Namespace
    flags : dict, optional
        Parameter names whose flag is not ``--name-with-dashes`` (see :func:`as_flags`).

    Returns
    -------
    int
        0 on success, 2 on an :class:`EnhanceError`, 130 on Ctrl-C, 128 + the signal's number
        on SIGTERM (143) or SIGHUP (129).
    """
    previous = warnings.formatwarning

    def one_line(message, category, filename, lineno, line=None):
        if issubclass(category, EnhanceWarning):
            return f"{prog}: warning: {as_flags(message, flags)}\n"
        return previous(message, category, filename, lineno, line)

    try:
        # Warnings the run survives: one line each, none with -q; a Python caller of
        # the library sees them as EnhanceWarnings instead.
        with warnings.catch_warnings(), _signals_as_interrupts():
            if getattr(args, "quiet", False):
                warnings.simplefilter("ignore", EnhanceWarning)
            warnings.formatwarning = one_line
            code = func(args)
    except EnhanceError as exc:
        print(f"{prog}: error: {as_flags(exc, flags)}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"{prog}: terminated by {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous
    return 0 if code is None else int(code)


def run_program(parser, func, argv=None, *, flags=None, validate=None):
    """A program's ``main``: parse ``argv``, set up logging, run ``func`` with :func:`run_cli`.

    Parameters
    ----------
    parser : OneLineParser
    func : callable
        The work, ``func(args)``; returns an exit code or None.
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).
    flags : dict, optional
        See :func:`as_flags`.
    validate : callable, optional
        ``validate(parser, args)`` after parsing, for checks argparse cannot express;
        it reports a problem with ``parser.error``.

    Returns
    -------
    int
        The exit code: 0 done, 1 some inputs failed, 2 a usage error or bad input (one
        line on stderr), 130 interrupted, 143 terminated (SIGTERM); ``-h`` and ``--version``
        return 0.
    """
    try:
        args = parser.parse_args(argv)
        if validate is not None:
            validate(parser, args)
    except SystemExit as exc:  # -h, --version or a usage error, already reported: keep main() a function
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    setup_logging(quiet=getattr(args, "quiet", False), flags=flags, prog=parser.prog)
    return run_cli(parser.prog, func, args, flags=flags)
