"""Runs that survive the real world: signals at several moments of a run, writers killed with
SIGKILL, a full disk. Real signals in real processes, a real (small) tmpfs."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from enhance_lib.io.atomic import is_temporary
from enhance_lib.scripts.enhance import main as enhance_main

REPO = Path(__file__).resolve().parent.parent


def _image(path, shape=(40, 48), seed=0):
    data = np.random.default_rng(seed).normal(1.0, 0.04, shape).astype(np.float32)
    header = fits.Header({"CUNIT1": "arcsec", "CUNIT2": "arcsec", "CDELT1": 0.504, "CDELT2": 0.504,
                          "BUNIT": "DN/s"})
    fits.PrimaryHDU(data, header=header).writeto(path)
    return path


def _temporaries(folder):
    return [name for name in os.listdir(folder) if is_temporary(name)]


# A run of enhance in its own process; ``HOOK`` is Python run first, to send a signal at a chosen moment.
_RUNNER = textwrap.dedent("""
    import os, signal, sys
    from enhance_lib.scripts.enhance import main
    {hook}
    sys.exit(main(sys.argv[1:]))
""")

# Moments of a run, each a patch that sends the signal to the process itself at that moment.
_MOMENTS = {
    # while the network predicts (the engine is built, nothing written yet)
    "predict": """
        from enhance_lib.run import enhancer as engine
        _predict = engine.Enhancer.predict
        def predict(self, *args, **kwargs):
            os.kill(os.getpid(), SIGNAL)
            return _predict(self, *args, **kwargs)
        engine.Enhancer.predict = predict
    """,
    # half-way through the data of the output file
    "write": """
        from astropy.io.fits import file as fits_file
        _write = fits_file._File.write
        calls = []
        def write(self, data):
            calls.append(len(data))
            if len(calls) == 2:
                os.kill(os.getpid(), SIGNAL)
            return _write(self, data)
        fits_file._File.write = write
    """,
    # the whole temporary file written, just before the rename onto the output
    "before-rename": """
        from enhance_lib.io import fits as fitsio
        _fsync = os.fsync
        def fsync(fd):
            os.kill(os.getpid(), SIGNAL)
            return _fsync(fd)
        fitsio.os.fsync = fsync
    """,
}


def _spawn(argv, *, moment=None, signum=signal.SIGTERM):
    hook = ""
    if moment is not None:
        hook = f"SIGNAL = {int(signum)}\n" + textwrap.dedent(_MOMENTS[moment])
    code = _RUNNER.format(hook=hook)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["predict", "write", "before-rename"])
def test_sigterm_at_any_moment_leaves_nothing_partial(tmp_path, tiny_weights, moment):
    src = _image(tmp_path / "in.fits")
    out = tmp_path / "out" / "o.fits"
    out.parent.mkdir()
    out.write_bytes(b"the previous output")
    proc = _spawn(["-i", src, "-o", out, "-w", tiny_weights], moment=moment)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "enhance: terminated by SIGTERM", err
    assert "Traceback" not in err
    assert out.read_bytes() == b"the previous output"  # the file that was there, as it was
    assert os.listdir(out.parent) == ["o.fits"]  # no temporary file


@pytest.mark.slow
def test_sigterm_from_outside_during_a_run(tmp_path, tiny_weights):
    """`kill` from another process, once the output is being written: the output is whole or
    absent, no temporary file is left, exit 143 (or 0 when the run finished first)."""
    src = _image(tmp_path / "in.fits", shape=(1200, 1200))
    out = tmp_path / "o.fits"
    proc = _spawn(["-i", src, "-o", out, "-w", tiny_weights, "-q"])
    deadline = time.monotonic() + 120
    while proc.poll() is None and not _temporaries(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 143), err
    assert "Traceback" not in err
    assert _temporaries(tmp_path) == []
    if out.exists():
        assert fits.getdata(out).shape == (2400, 2400)


@pytest.mark.slow
def test_sigint_is_130_and_sighup_129(tmp_path, tiny_weights):
    src = _image(tmp_path / "in.fits")
    for signum, code, line in ((signal.SIGINT, 130, "enhance: interrupted"),
                               (signal.SIGHUP, 129, "enhance: terminated by SIGHUP")):
        proc = _spawn(["-i", src, "-o", tmp_path / "o.fits", "-w", tiny_weights], moment="write", signum=signum)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == code, err
        assert err.strip().splitlines()[-1] == line
        assert sorted(os.listdir(tmp_path)) == ["in.fits"]


@pytest.mark.slow
def test_sigterm_in_a_batch_says_how_far_it_got(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(4):
        _image(folder / f"f{k}.fits", seed=k)
    out = tmp_path / "out"
    # the signal arrives while the third file is predicted
    hook = """
        from enhance_lib.run import enhancer as engine
        _predict = engine.Enhancer.predict
        calls = []
        def predict(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), SIGNAL)
            return _predict(self, *args, **kwargs)
        engine.Enhancer.predict = predict
    """
    _MOMENTS["third-predict"] = hook
    try:
        proc = _spawn(["-i", folder, "-o", out, "-w", tiny_weights], moment="third-predict")
        _, err = proc.communicate(timeout=120)
    finally:
        del _MOMENTS["third-predict"]
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert lines[-1] == "enhance: terminated by SIGTERM"
    assert "stopped after 2 of 4 files (2 done, 0 skipped, 0 failed); rerun with --skip-existing" in lines[-2]
    written = sorted(os.listdir(out))
    assert written == ["f0.fits", "f1.fits"]  # whole files only, no temporary
    for name in written:
        assert fits.getdata(out / name).shape == (80, 96)
    # the rerun finishes the job
    assert enhance_main(["-i", str(folder), "-o", str(out), "-w", str(tiny_weights), "-q", "--skip-existing"]) == 0
    assert sorted(os.listdir(out)) == [f"f{k}.fits" for k in range(4)]


@pytest.mark.slow
def test_a_writer_killed_with_sigkill_leaves_a_temporary_that_the_next_run_removes(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    _image(folder / "a.fits")
    out = tmp_path / "out"
    proc = _spawn(["-i", folder / "a.fits", "-o", out / "a.fits", "-w", tiny_weights], moment="before-rename",
                  signum=signal.SIGKILL)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    left = _temporaries(out)
    assert len(left) == 1 and f".~{proc.pid}@" in left[0]  # the dead writer's pid is in its name
    # never taken for an output or an input
    assert not (out / "a.fits").exists()
    assert enhance_main(["-i", str(out / "a.fits"), "-o", str(tmp_path / "x.fits"), "-q"]) == 2
    # a rerun into the folder removes it and finishes the job
    assert enhance_main(["-i", str(folder), "-o", str(out), "-w", str(tiny_weights), "-q", "--skip-existing"]) == 0
    assert os.listdir(out) == ["a.fits"]


@pytest.fixture()
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs, mounted for the test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def _fill(folder, leave):
    """Fill the file system of ``folder`` to ``leave`` bytes free."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    (folder / "filler").write_bytes(b"\0" * max(0, free - leave))


def test_a_full_disk_keeps_the_older_file(small_tmpfs, tmp_path, tiny_weights, capsys):
    src = _image(tmp_path / "in.fits", shape=(200, 200))  # 640 kB of output
    out = small_tmpfs / "o.fits"
    out.write_bytes(b"the older output")
    _fill(small_tmpfs, 100_000)
    code = enhance_main(["-i", str(src), "-o", str(out), "-w", str(tiny_weights)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(
        f"enhance: error: {out}: cannot write the output file (No space left on device: 0.64 MB to write, ")
    assert "Traceback" not in err
    assert out.read_bytes() == b"the older output"
    assert sorted(os.listdir(small_tmpfs)) == ["filler", "o.fits"]


def test_a_batch_goes_on_after_a_full_disk(small_tmpfs, tmp_path, tiny_weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _image(folder / "a_big.fits", shape=(200, 200))  # 640 kB of output: does not fit
    _image(folder / "b_small.fits", shape=(30, 30))  # 14 kB: fits
    out = small_tmpfs / "out"
    _fill(small_tmpfs, 100_000)
    code = enhance_main(["-i", str(folder), "-o", str(out), "-w", str(tiny_weights)])
    err = capsys.readouterr().err
    assert code == 1
    failures = [line for line in err.splitlines() if "a_big.fits" in line and "data type" not in line]
    assert len(failures) == 1
    assert failures[0].startswith(f"enhance: error: {folder / 'a_big.fits'}: cannot write the output file "
                                  "(No space left on device")
    assert "1 done, 0 skipped, 1 failed" in err
    assert os.listdir(out) == ["b_small.fits"]
    assert fits.getdata(out / "b_small.fits").shape == (60, 60)


@pytest.mark.slow
def test_sigterm_during_a_dask_batch(tmp_path, tiny_weights, monkeypatch, capsys):
    """SIGTERM while Dask workers run a batch: exit 143 after saying how far it got; every output
    is whole; the rerun finishes the job and removes what stopped workers left."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
    from enhance_lib.run import cluster

    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(8):
        _image(folder / f"f{k}.fits", seed=k)
    out = tmp_path / "out"
    real_progress = cluster.file_progress

    def terminated_after_the_first_file(total, **kwargs):
        bar = real_progress(total, **kwargs)
        update = bar.update

        def first_update_signals(n=1):
            update(n)
            os.kill(os.getpid(), signal.SIGTERM)  # a real signal, handled in this (the main) thread

        bar.update = first_update_signals
        return bar

    monkeypatch.setattr(cluster, "file_progress", terminated_after_the_first_file)
    code = enhance_main(["-i", str(folder), "-o", str(out), "-w", str(tiny_weights), "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 143, err
    lines = err.strip().splitlines()
    assert lines[-1] == "enhance: terminated by SIGTERM"
    assert any(line.startswith("stopped after ") and "rerun with --skip-existing" in line for line in lines), err
    for name in os.listdir(out):
        assert is_temporary(name) or fits.getdata(out / name).shape == (80, 96)
    monkeypatch.setattr(cluster, "file_progress", real_progress)
    assert enhance_main(["-i", str(folder), "-o", str(out), "-w", str(tiny_weights), "-q", "--skip-existing"]) == 0
    assert sorted(os.listdir(out)) == [f"f{k}.fits" for k in range(8)]


def test_a_batch_with_nothing_to_write_still_removes_dead_writers_temporaries(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    _image(folder / "a.fits")
    out = tmp_path / "out"
    assert enhance_main(["-i", str(folder), "-o", str(out), "-w", str(tiny_weights), "-q"]) == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    from enhance_lib.io.atomic import _host

    left = out / f".a.fits.~{int(dead.stdout)}@{_host()}~abcd1234.tmp"  # as a writer killed mid-write left it
    left.write_bytes(b"partial")
    assert enhance_main(["-i", str(folder), "-o", str(out), "-w", str(tiny_weights), "-q", "--skip-existing"]) == 0
    assert os.listdir(out) == ["a.fits"]
