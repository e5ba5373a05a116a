"""What the programs share: library errors as one line and exit code 2, warnings as one line
(none with -q), signals as exit codes, parameter names shown as flags."""

import logging
import signal
import warnings
from types import SimpleNamespace

from enhance_lib.errors import EnhanceError, EnhanceUserWarning, warn_user
from enhance_lib.scripts.common import OneLineParser, Terminated, as_flags, run_cli, run_program


def test_errors_are_one_line_with_the_flags_spelled_as_flags(capsys):
    def fails(args):
        raise EnhanceError("`pixel_scale` is required with `truth`; `filters` must be >= 1")

    assert run_cli("prog", fails, SimpleNamespace(), flags={"filters": "--kernels"}) == 2
    assert capsys.readouterr().err == "prog: error: --pixel-scale is required with --truth; --kernels must be >= 1\n"
    assert as_flags("no names here") == "no names here"


def test_exit_codes_of_work_interrupts_and_signals(capsys):
    assert run_cli("prog", lambda args: None, SimpleNamespace()) == 0
    assert run_cli("prog", lambda args: 1, SimpleNamespace()) == 1

    def interrupted(args):
        raise KeyboardInterrupt

    def terminated(args):
        raise Terminated(signal.SIGTERM)

    assert run_cli("prog", interrupted, SimpleNamespace()) == 130
    assert run_cli("prog", terminated, SimpleNamespace()) == 128 + signal.SIGTERM == 143
    err = capsys.readouterr().err
    assert err == "prog: interrupted\nprog: terminated by SIGTERM\n"


def test_a_real_sigterm_becomes_terminated_and_the_handler_is_given_back(capsys):
    before = signal.getsignal(signal.SIGTERM)

    def work(args):
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("the signal did not interrupt the work")

    assert run_cli("prog", work, SimpleNamespace()) == 143
    assert "terminated by SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before


def test_warnings_are_one_line_and_quiet_silences_them():
    """Within a run an EnhanceWarning is formatted as one line with flags; other warnings as
    Python formats them; with -q an EnhanceWarning is not issued at all (pytest's filter would
    turn it into an error here)."""
    shown = []

    def work(args):
        shown.append(warnings.formatwarning("`tile` is odd", EnhanceUserWarning, "x.py", 1))
        shown.append(warnings.formatwarning("other", UserWarning, "x.py", 1))
        if args.quiet:
            warn_user("`tile` is odd")

    before = warnings.formatwarning
    assert run_cli("prog", work, SimpleNamespace(quiet=False)) == 0
    assert shown[0] == "prog: warning: --tile is odd\n"
    assert shown[1].startswith("x.py:1: UserWarning: other")
    assert warnings.formatwarning is before  # given back
    assert run_cli("prog", work, SimpleNamespace(quiet=True)) == 0


def test_usage_errors_are_one_line_and_help_returns_zero(capsys):
    parser = OneLineParser(prog="prog")
    parser.add_argument("--number", type=int, required=True)
    assert run_program(parser, lambda args: None, ["--number", "x"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()] and err.startswith("prog: error: argument --number")
    assert err.rstrip().endswith("(see prog -h)")
    assert run_program(parser, lambda args: None, ["-h"]) == 0
    assert "--number" in capsys.readouterr().out
    seen = []
    assert run_program(parser, lambda args: seen.append(args.number), ["--number", "4"]) == 0
    assert seen == [4]
    assert logging.getLogger("enhance_lib").level == logging.INFO  # the program's log goes to the terminal
