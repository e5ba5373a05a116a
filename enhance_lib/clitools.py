"""Helpers shared by the command-line programs (error reporting, logging, quiet mode)."""

import argparse
import logging
import sys
import warnings

from .errors import EnhanceError, EnhanceUserWarning

__all__ = ["OneLineParser", "run_cli", "setup_logging"]


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def setup_logging(*, quiet=False, verbose=False):
    """Send the library's log records to stderr: INFO by default, WARNING if quiet."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logger = logging.getLogger("enhance_lib")
    logger.handlers[:] = []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def run_cli(prog, func, args):
    """Run ``func(args)`` and turn user errors into one line on stderr and exit code 2.

    Parameters
    ----------
    prog : str
        Program name for the error line (``enhance: error: ...``).
    func : callable
        The work; returns an exit code or None.
    args : argparse.Namespace

    Returns
    -------
    int
        0 on success, 2 on an :class:`EnhanceError`, 130 on Ctrl-C.
    """
    previous = warnings.formatwarning

    def one_line(message, category, filename, lineno, line=None):
        if issubclass(category, EnhanceUserWarning):
            return f"{prog}: warning: {message}\n"
        return previous(message, category, filename, lineno, line)

    try:
        # Warnings the run survives: one line each, none with -q; a Python caller of
        # the library sees them as EnhanceUserWarning instead.
        with warnings.catch_warnings():
            if getattr(args, "quiet", False):
                warnings.simplefilter("ignore", EnhanceUserWarning)
            warnings.formatwarning = one_line
            code = func(args)
    except EnhanceError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous
    return 0 if code is None else int(code)
