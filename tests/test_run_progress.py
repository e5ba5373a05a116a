"""Progress of a batch and of an image's tiles: whole lines off a terminal, a bar on one (a real
terminal: a pty), error and warning lines on their own."""

import contextlib
import fcntl
import logging
import os
import re
import struct
import sys
import termios
import threading
import warnings

import numpy as np
import synthetic
from astropy.io import fits

from enhance_lib.errors import EnhanceWarning
from enhance_lib.scripts.enhance import main as enhance_main

PROGRESS_LINE = re.compile(r"^enhancing: (\d+)/(\d+) files \(\d+ s\)$")
TILE_LINE = re.compile(r"^enhancing: (\d+)/(\d+) tiles \(\d+ s\)$")


def _run(capsys, *argv):
    code = enhance_main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_error_lines_never_share_the_progress_line(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    (hmi_folder / "hmi_1b.fits").write_text("not a FITS file")
    # stderr (captured) is not a terminal: progress as whole lines, the error on its own
    code, err = _run(capsys, "-i", hmi_folder, "-o", tmp_path / "log", "-w", tiny_weights)
    assert code == 1
    assert "\r" not in err
    lines = err.splitlines()
    progress = [m.groups() for m in map(PROGRESS_LINE.match, lines) if m]
    assert progress == [(str(k), "4") for k in range(1, 5)]
    [error] = [line for line in lines if "not a readable FITS file" in line]
    assert error == (f"enhance: error: {hmi_folder / 'hmi_1b.fits'}: not a readable FITS file (No SIMPLE card "
                     "found, this file does not appear to be a valid FITS file)")  # as a single run's error line
    # on a terminal, a bar: the error line is written through tqdm, on a line of its own
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, err = _run(capsys, "-i", hmi_folder, "-o", tmp_path / "tty", "-w", tiny_weights)
    assert code == 1
    shown = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]  # what the terminal keeps of each line
    [error] = [line for line in shown if "not a readable FITS file" in line]
    assert error.startswith(f"enhance: error: {hmi_folder / 'hmi_1b.fits'}: ")
    assert any(re.match(r"enhancing: 100%.* 4/4", line) for line in shown)
    handlers = logging.getLogger("enhance_lib").handlers  # the console handler is given back
    assert [type(h) for h in handlers] == [logging.StreamHandler]


def _batch_folder(hmi_folder):
    """hmi_0, hmi_1, a file that is not FITS (hmi_1b), a cube with an all-NaN plane (hmi_1c), hmi_2."""
    (hmi_folder / "hmi_1b.fits").write_text("not a FITS file")
    cube = np.random.default_rng(1).normal(1000.0, 40.0, (3, 30, 36)).astype(np.float32)
    cube[1] = np.nan
    fits.PrimaryHDU(cube, fits.getheader(hmi_folder / "hmi_0.fits")).writeto(hmi_folder / "hmi_1c.fits")
    return hmi_folder


@contextlib.contextmanager
def _warnings_shown(monkeypatch):
    """EnhanceWarnings shown on stderr as Python shows them outside pytest (which records them)."""

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always", EnhanceWarning)
        monkeypatch.setattr(warnings, "showwarning", show)
        yield


def _on_a_terminal(monkeypatch, argv):
    """Run enhance with stderr on a real terminal (a pty, 100 columns); the exit code and what
    the terminal kept of each line (the text after its last carriage return)."""
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # the bytes as written, no \n -> \r\n
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal's other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    terminal = open(slave, "w", buffering=1, encoding="utf-8")  # noqa: SIM115 (closed below, then drained)
    try:
        assert terminal.isatty()
        monkeypatch.setattr(sys, "stderr", terminal)
        with _warnings_shown(monkeypatch):
            code = enhance_main([str(a) for a in argv])
    finally:
        monkeypatch.undo()
        terminal.close()
        reader.join()
        os.close(master)
    text = b"".join(chunks).decode()
    return code, [line.rsplit("\r", 1)[-1] for line in text.split("\n")]


def test_on_a_terminal_warnings_and_errors_stand_above_the_bar(hmi_folder, tmp_path, tiny_weights, monkeypatch):
    folder = _batch_folder(hmi_folder)
    code, shown = _on_a_terminal(monkeypatch, ["-i", folder, "-o", tmp_path / "out", "-w", tiny_weights])
    assert code == 1
    assert (f"enhance: warning: {folder / 'hmi_1c.fits'}: plane 2 of 3 (counted from 1, as ENHNnnnn) has no "
            "finite pixels; its output is all NaN") in shown
    assert (f"enhance: error: {folder / 'hmi_1b.fits'}: not a readable FITS file (No SIMPLE card found, this file "
            "does not appear to be a valid FITS file)") in shown
    assert any(re.fullmatch(r"enhancing: 100%\|█+\| 5/5 \[.*file/s\]", line) for line in shown), shown
    messages = [line for line in shown if "enhance:" in line or ": data type" in line]
    assert all(line.startswith(("enhance: ", str(folder))) for line in messages), shown  # none after a bar
    assert shown[-2:] == ["4 done, 0 skipped, 1 failed in " + shown[-2].rsplit(" in ", 1)[1], ""]


def test_on_a_terminal_the_tile_bar_is_cleared(tmp_path, tiny_weights, monkeypatch):
    src = tmp_path / "in.fits"
    synthetic.write_hmi_file(src, 0)
    code, shown = _on_a_terminal(monkeypatch, ["-i", src, "-o", tmp_path / "o.fits", "-w", tiny_weights,
                                               "--tile", "8"])
    assert code == 0
    kept = [line.strip() for line in shown if line.strip()]
    assert [line.split(":")[0] if line.startswith(str(src)) else line.split(" ")[0] for line in kept] == [
        str(src), "network", str(src), "wrote"], shown  # data type, network, enhanced in, wrote: no bar left


def test_in_a_log_tiles_are_whole_lines(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.fits"
    synthetic.write_hmi_file(src, 0)
    code = enhance_main([str(a) for a in ("-i", src, "-o", tmp_path / "o.fits", "-w", tiny_weights, "--tile", "8")])
    err = capsys.readouterr().err
    assert code == 0
    assert "\r" not in err
    tiles = [m.groups() for m in map(TILE_LINE.match, err.splitlines()) if m]
    assert tiles == [(str(k), "20") for k in range(2, 21, 2)]  # 4 x 5 tiles of 8: a line per 10 %


def test_in_a_log_a_file_read_ahead_speaks_in_its_turn(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    """Its data type line and its warnings come after the previous file's progress line, not
    while that file is predicted."""
    folder = _batch_folder(hmi_folder)
    with _warnings_shown(monkeypatch):
        code = enhance_main([str(a) for a in ("-i", folder, "-o", tmp_path / "out", "-w", tiny_weights)])
    err = capsys.readouterr().err
    assert code == 1
    kind = "data type intensity (the default: the header has no CONTENT or BUNIT)"
    lines = [re.sub(r"\(\d+ s\)$", "(N s)", line) for line in err.splitlines()]
    assert lines[:-1] == [
        f"{folder / 'hmi_0.fits'}: {kind}",
        f"network keepsize depth 1, 4 filters ({tiny_weights}); " + lines[1].split("; ", 1)[1],
        "enhancing: 1/5 files (N s)",
        f"{folder / 'hmi_1.fits'}: {kind}",
        "enhancing: 2/5 files (N s)",
        f"enhance: error: {folder / 'hmi_1b.fits'}: not a readable FITS file (No SIMPLE card found, this file does "
        "not appear to be a valid FITS file)",
        "enhancing: 3/5 files (N s)",
        f"{folder / 'hmi_1c.fits'}: {kind}",
        f"enhance: warning: {folder / 'hmi_1c.fits'}: plane 2 of 3 (counted from 1, as ENHNnnnn) has no finite "
        "pixels; its output is all NaN",
        "enhancing: 4/5 files (N s)",
        f"{folder / 'hmi_2.fits'}: {kind}",
        "enhancing: 5/5 files (N s)",
    ]
    assert lines[-1].startswith("4 done, 0 skipped, 1 failed in ")
