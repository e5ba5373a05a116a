"""Progress of a batch: whole lines off a terminal, a bar on one, error lines on their own."""

import logging
import re
import sys

from enhance_lib.scripts.enhance import main as enhance_main

PROGRESS_LINE = re.compile(r"^enhancing: (\d+)/(\d+) files \(\d+ s\)$")


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
