"""Many files through one network: outputs as single runs, failures, resume, folders and globs."""

import logging
import os
import re
import signal
import sys

import numpy as np
import pytest
from astropy.io import fits

from enhance_lib.errors import EnhanceError
from enhance_lib.run.batch import enhance_files, expand_inputs, output_paths
from enhance_lib.run.enhancer import Enhancer
from enhance_lib.run.options import EnhanceOptions
from enhance_lib.scripts.enhance import main as enhance_main


def _write(path, seed, shape=(30, 36), **keys):
    data = np.random.default_rng(seed).normal(1000.0, 40.0, shape).astype(np.float32)
    header = fits.Header(keys)
    header["CTYPE1"], header["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    header["CDELT1"], header["CDELT2"] = 0.504, 0.504
    header["CRPIX1"], header["CRPIX2"] = 10.0 + seed, 12.0
    header["OBSNUM"] = seed
    fits.PrimaryHDU(data, header=header).writeto(path)


@pytest.fixture()
def folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(3):
        _write(src / f"hmi_{k}.fits", k)
    return src


def _run(capsys, *argv):
    code = enhance_main([str(a) for a in argv])
    return code, capsys.readouterr().err


def _without_history(header):
    """The header without HISTORY, COMMENT and DATE (when the file was written)."""
    return {k: v for k, v in header.items() if k not in ("HISTORY", "COMMENT", "DATE")}


def test_batch_equals_single_runs(folder, tmp_path, tiny_weights, capsys):
    code, err = _run(capsys, "-i", folder, "-o", tmp_path / "out", "-w", tiny_weights, "-q")
    assert code == 0, err
    for k in range(3):
        single = tmp_path / f"single_{k}.fits"
        assert _run(capsys, "-i", folder / f"hmi_{k}.fits", "-o", single, "-w", tiny_weights, "-q")[0] == 0
        with fits.open(tmp_path / "out" / f"hmi_{k}.fits") as a, fits.open(single) as b:
            np.testing.assert_array_equal(a[0].data, b[0].data)
            assert _without_history(a[0].header) == _without_history(b[0].header)
            assert a[0].header["OBSNUM"] == k


def test_a_bad_file_does_not_stop_the_batch(folder, tmp_path, tiny_weights, capsys):
    (folder / "hmi_1b.fits").write_text("not a FITS file")
    out = tmp_path / "out"
    code, err = _run(capsys, "-i", folder, "-o", out, "-w", tiny_weights, "-q")
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits"]
    lines = err.strip().splitlines()
    assert len([line for line in lines if "hmi_1b.fits" in line]) == 1
    assert "Traceback" not in err
    assert lines[-1].startswith("3 done, 0 skipped, 1 failed")


def test_skip_existing_leaves_outputs_untouched(folder, tmp_path, tiny_weights, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hmi_1.fits").write_bytes(b"an earlier result")
    assert _run(capsys, "-i", folder, "-o", out, "-w", tiny_weights, "-q", "--skip-existing")[0] == 0
    assert (out / "hmi_1.fits").read_bytes() == b"an earlier result"
    assert fits.getdata(out / "hmi_2.fits").shape == (60, 72)
    # without it, existing outputs are replaced
    assert _run(capsys, "-i", folder, "-o", out, "-w", tiny_weights, "-q")[0] == 0
    assert fits.getdata(out / "hmi_1.fits").shape == (60, 72)


def test_inputs_from_files_folders_and_patterns(folder, tmp_path):
    (folder / "notes.txt").write_text("")
    _write(folder / "other.fts", 5)
    files, batch = expand_inputs([str(folder)])
    assert batch and [f.split("/")[-1] for f in files] == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits", "other.fts"]
    files, batch = expand_inputs([str(folder / "hmi_*.fits")])
    assert batch and len(files) == 3
    assert expand_inputs([str(folder / "hmi_0.fits")]) == ([str(folder / "hmi_0.fits")], False)
    assert expand_inputs([str(folder / "hmi_0.fits"), str(folder / "hmi_1.fits")])[1]
    with pytest.raises(EnhanceError, match="no file matches"):
        expand_inputs([str(folder / "*.nothing")])
    assert output_paths(["a/x.fits", "b/y.fits.gz"], "out") == ["out/x.fits", "out/y.fits"]
    with pytest.raises(EnhanceError, match="would both be written"):
        output_paths(["a/x.fits", "b/x.fits"], "out")


def test_usage_errors_of_a_batch(folder, tmp_path, tiny_weights, capsys):
    code, err = _run(capsys, "-i", folder, "-o", folder, "-w", tiny_weights)
    assert code == 2 and "output folder is an input folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "file.fits").write_bytes(b"")
    code, err = _run(capsys, "-i", folder / "hmi_0.fits", folder / "hmi_1.fits", "-o", tmp_path / "file.fits",
                     "-w", tiny_weights)
    assert code == 2 and "output must be a folder" in err


def test_enhancer_from_python(folder, tmp_path, tiny_weights):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    inputs = sorted(folder.glob("*.fits"))
    outcomes = enhance_files(enhancer, inputs, output_paths(inputs, tmp_path / "o"))
    assert [o.status for o in outcomes] == ["done"] * 3
    single = enhancer.enhance_file(inputs[0], tmp_path / "one.fits")
    np.testing.assert_array_equal(single, fits.getdata(tmp_path / "o" / "hmi_0.fits"))


def test_local_dask_cluster_equals_the_serial_run(folder, tmp_path, tiny_weights, capsys):
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
    (folder / "hmi_1b.fits").write_text("not a FITS file")
    serial, dask_out = tmp_path / "serial", tmp_path / "dask"
    assert _run(capsys, "-i", folder, "-o", serial, "-w", tiny_weights, "-q")[0] == 1
    code, err = _run(capsys, "-i", folder, "-o", dask_out, "-w", tiny_weights, "-q", "--workers", "2")
    assert code == 1  # the bad file fails there too, the others are done
    assert len([line for line in err.splitlines() if "hmi_1b.fits" in line]) == 1
    assert sorted(p.name for p in dask_out.iterdir()) == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits"]
    for name in ("hmi_0.fits", "hmi_1.fits", "hmi_2.fits"):
        with fits.open(serial / name) as a, fits.open(dask_out / name) as b:
            np.testing.assert_array_equal(a[0].data, b[0].data)
            assert _without_history(a[0].header) == _without_history(b[0].header)


def test_workers_without_dask_is_one_line(folder, tmp_path, tiny_weights, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "dask" or name.startswith(("dask.", "distributed")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    code, err = _run(capsys, "-i", folder, "-o", tmp_path / "out", "-w", tiny_weights, "--workers", "2")
    assert code == 2
    assert err.strip().splitlines() == [
        "enhance: error: --workers and --scheduler need dask and distributed (pip install 'enhance-keras3[dask]')"
    ]


def _spy_local_clusters(monkeypatch):
    """Record the worker counts of the local clusters the library starts (and start them)."""
    from enhance_lib.run import cluster

    started, real = [], cluster.local_cluster

    def spy(workers):
        started.append(workers)
        return real(workers)

    monkeypatch.setattr(cluster, "local_cluster", spy)
    return started


PROGRESS_LINE = re.compile(r"^enhancing: (\d+)/(\d+) files \(\d+ s\)$")


@pytest.mark.slow
def test_one_cluster_for_all_data_types(folder, tmp_path, tiny_weights, capsys, monkeypatch):
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
    for k in (3, 4):  # magnetograms beside the three intensity files (the tiny network records no data type)
        _write(folder / f"hmi_{k}.fits", k, CONTENT="MAGNETOGRAM", BUNIT="Gauss")
    serial, dask_out = tmp_path / "serial", tmp_path / "dask"
    assert _run(capsys, "-i", folder, "-o", serial, "-w", tiny_weights, "-q")[0] == 0
    started = _spy_local_clusters(monkeypatch)
    code, err = _run(capsys, "-i", folder, "-o", dask_out, "-w", tiny_weights, "--workers", "2")
    assert code == 0, err
    assert started == [2]  # one cluster for intensity and blos
    names = [f"hmi_{k}.fits" for k in range(5)]
    assert sorted(p.name for p in dask_out.iterdir()) == names
    for name in names:
        with fits.open(serial / name) as a, fits.open(dask_out / name) as b:
            assert np.array_equal(a[0].data, b[0].data)
            assert _without_history(a[0].header) == _without_history(b[0].header)
    # stderr is not a terminal here: progress is whole lines, 1/5 to 5/5, one per file
    progress = [m.groups() for m in map(PROGRESS_LINE.match, err.splitlines()) if m]
    assert progress == [(str(k), "5") for k in range(1, 6)]
    assert "\r" not in err
    assert err.splitlines()[-1].startswith("5 done, 0 skipped, 0 failed")


def test_nothing_to_do_starts_no_cluster(folder, tmp_path, tiny_weights, capsys, monkeypatch):
    distributed = pytest.importorskip("distributed",
                                      reason="dask.distributed is not installed (pip install -e '.[dask]')")
    out = tmp_path / "out"
    out.mkdir()
    for k in range(3):
        (out / f"hmi_{k}.fits").write_bytes(b"an earlier result")
    started = _spy_local_clusters(monkeypatch)
    clients = []
    monkeypatch.setattr(distributed, "Client", lambda *a, **kw: clients.append(a) or pytest.fail("a Client"))
    code, err = _run(capsys, "-i", folder, "-o", out, "-w", tiny_weights, "--workers", "2", "--skip-existing")
    assert code == 0, err
    assert err.splitlines()[-1].startswith("0 done, 3 skipped, 0 failed")
    # one input, and an existing cluster's address (nothing listens there)
    code, err = _run(capsys, "-i", folder / "hmi_0.fits", "-o", out / "hmi_0.fits", "-w", tiny_weights,
                     "--workers", "2", "--skip-existing")
    assert code == 0, err
    code, err = _run(capsys, "-i", folder, "-o", out, "-w", tiny_weights, "--scheduler", "tcp://127.0.0.1:9",
                     "--skip-existing", "-q")
    assert (code, err) == (0, "")
    assert started == [] and clients == []
    assert all((out / f"hmi_{k}.fits").read_bytes() == b"an earlier result" for k in range(3))


@pytest.mark.slow
def test_a_killed_worker_loses_no_file(tmp_path, tiny_weights, monkeypatch):
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
    from dask.distributed import Client

    from enhance_lib.run import cluster

    src = tmp_path / "in"
    src.mkdir()
    inputs = [src / f"hmi_{k:02d}.fits" for k in range(12)]
    for k, path in enumerate(inputs):
        _write(path, k)
    serial_outputs = output_paths(inputs, tmp_path / "serial")
    dask_outputs = output_paths(inputs, tmp_path / "dask")
    options = {"kind": "intensity", "weights": str(tiny_weights)}
    assert [o.status for o in enhance_files(Enhancer(**options), inputs, serial_outputs)] == ["done"] * 12

    killed = []

    class KillAfterTheFirstFile:
        """Progress whose first update (the first file done) kills a worker that is running files."""

        def __init__(self, total, *, initial=0, enabled=True):
            self.done = initial

        def update(self, n=1):
            self.done += n
            if not killed:
                busy = {address: keys for address, keys in client.processing().items() if keys}
                victim = max(busy, key=lambda address: len(busy[address]))
                killed.append((pids[victim], len(busy[victim]), self.done))
                os.kill(pids[victim], signal.SIGKILL)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(cluster, "file_progress", KillAfterTheFirstFile)
    with cluster.local_cluster(2) as local, Client(local) as client:
        pids = client.run(os.getpid)
        outcomes = cluster.enhance_files_dask(client, inputs, dask_outputs, options=EnhanceOptions(**options),
                                              progress=True)
        client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed one
        after = set(client.run(os.getpid).values())
    [(pid, running, done)] = killed
    assert running >= 1 and done < len(inputs)  # it died with files in hand, mid-batch
    assert pid not in after and len(after) == 2
    assert [o.status for o in outcomes] == ["done"] * 12, [o.message for o in outcomes]
    for serial, dask in zip(serial_outputs, dask_outputs, strict=True):
        assert os.path.exists(dask)
        assert np.array_equal(fits.getdata(serial), fits.getdata(dask))


def test_error_lines_never_share_the_progress_line(folder, tmp_path, tiny_weights, capsys, monkeypatch):
    (folder / "hmi_1b.fits").write_text("not a FITS file")
    # stderr (captured) is not a terminal: progress as whole lines, the error on its own
    code, err = _run(capsys, "-i", folder, "-o", tmp_path / "log", "-w", tiny_weights)
    assert code == 1
    assert "\r" not in err
    lines = err.splitlines()
    progress = [m.groups() for m in map(PROGRESS_LINE.match, lines) if m]
    assert progress == [(str(k), "4") for k in range(1, 5)]
    [error] = [line for line in lines if "not a readable FITS file" in line]
    assert error.startswith(str(folder / "hmi_1b.fits") + ": ")
    # on a terminal, a bar: the error line is written through tqdm, on a line of its own
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, err = _run(capsys, "-i", folder, "-o", tmp_path / "tty", "-w", tiny_weights)
    assert code == 1
    shown = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]  # what the terminal keeps of each line
    [error] = [line for line in shown if "not a readable FITS file" in line]
    assert error.startswith(str(folder / "hmi_1b.fits") + ": ")
    assert any(re.match(r"enhancing: 100%.* 4/4", line) for line in shown)
    handlers = logging.getLogger("enhance_lib").handlers  # the console handler is given back
    assert [type(h) for h in handlers] == [logging.StreamHandler]


# --- files that lie and memory that runs out ---------------------------------------------


def _lie(path, nx=200000, ny=200000):
    """Rewrite a file's header to promise ``nx`` x ``ny`` pixels: a corrupt download."""
    raw = bytearray(path.read_bytes())
    for key, value in (("NAXIS1", nx), ("NAXIS2", ny)):
        at = raw.index(key.ljust(8).encode() + b"= ")
        raw[at:at + 80] = f"{key:<8}= {value:>20}".ljust(80).encode()
    path.write_bytes(bytes(raw))


def _one_line_error(code, err, output, *words):
    """Exit code 2, a single error line with ``words`` in it, no traceback, nothing written."""
    assert code == 2, err
    assert err.strip().splitlines() == [err.strip()], err
    assert err.startswith("enhance: error: ") and "Traceback" not in err
    for word in words:
        assert word in err
    assert not output.exists()


def test_lying_header_is_one_line(folder, tmp_path, tiny_weights, capsys):
    src, dst = folder / "hmi_0.fits", tmp_path / "o.fits"
    _lie(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-q")
    _one_line_error(code, err, dst, str(src), "200000 x 200000 pixels of 32-bit data (160 GB)", "truncated or corrupt")


def test_image_too_large_for_the_memory_is_one_line(folder, tmp_path, tiny_weights, capsys, monkeypatch):
    from enhance_lib.io import fits as fitsio

    monkeypatch.setattr(fitsio, "available_memory", lambda: 10_000)
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", folder / "hmi_0.fits", "-o", dst, "-w", tiny_weights, "-q")
    _one_line_error(code, err, dst, "hmi_0.fits", "36 x 30 pixels", "of memory to enhance, but 10 kB is available")


def test_a_lying_file_does_not_stop_the_batch(folder, tmp_path, tiny_weights, capsys):
    _write(folder / "hmi_1b.fits", 7)
    _lie(folder / "hmi_1b.fits")
    out = tmp_path / "out"
    code, err = _run(capsys, "-i", folder, "-o", out, "-w", tiny_weights, "-q")
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits"]
    lines = err.strip().splitlines()
    assert [line for line in lines if "hmi_1b.fits" in line] == [
        f"{folder / 'hmi_1b.fits'}: header promises 200000 x 200000 pixels of 32-bit data (160 GB) but the file "
        "holds only 5.76 kB after the header: truncated or corrupt"  # 30 x 36 x 4 bytes, padded
    ]
    assert "Traceback" not in err
    assert lines[-1].startswith("3 done, 0 skipped, 1 failed")


def _memory_runs_out_for(monkeypatch, shape):
    """The network runs out of memory on planes of ``shape`` (numpy's MemoryError), on others it runs."""
    import enhance_lib.run.tiling as predict

    real = predict.enhance_array

    def enhance_array(plane, *args, **kwargs):
        if plane.shape == shape:
            raise MemoryError("Unable to allocate 4 GiB for an array")
        return real(plane, *args, **kwargs)

    monkeypatch.setattr(predict, "enhance_array", enhance_array)


def test_out_of_memory_fails_one_file_of_a_batch(folder, tmp_path, tiny_weights, monkeypatch):
    _write(folder / "hmi_1b.fits", 7, shape=(40, 44))
    _memory_runs_out_for(monkeypatch, (40, 44))
    inputs = sorted(folder.glob("*.fits"))
    outcomes = enhance_files(Enhancer(kind="intensity", weights=tiny_weights), inputs,
                             output_paths(inputs, tmp_path / "out"))
    assert [o.status for o in outcomes] == ["done", "done", "failed", "done"]
    assert outcomes[2].message == ("out of memory enhancing the image of 44 x 40 pixels (0.00704 MB as float32; "
                                   "its x2 output is 4 times that)")
    assert not (tmp_path / "out" / "hmi_1b.fits").exists()


def test_a_bare_memory_error_fails_one_file_of_a_batch(folder, tmp_path, tiny_weights):
    # An enhancer of another making that lets a MemoryError through: the batch goes on.
    class LeakyEnhancer(Enhancer):
        def predict(self, prepared, **kwargs):
            if prepared.source.endswith("hmi_1.fits"):
                raise MemoryError
            return super().predict(prepared, **kwargs)

    inputs = sorted(folder.glob("*.fits"))
    outcomes = enhance_files(LeakyEnhancer(kind="intensity", weights=tiny_weights), inputs,
                             output_paths(inputs, tmp_path / "out"))
    assert [(o.status, o.message) for o in outcomes] == [("done", ""), ("failed", "out of memory"), ("done", "")]


def test_out_of_memory_in_one_run_is_one_line(folder, tmp_path, tiny_weights, capsys, monkeypatch):
    _memory_runs_out_for(monkeypatch, (30, 36))
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", folder / "hmi_0.fits", "-o", dst, "-w", tiny_weights, "-q")
    _one_line_error(code, err, dst, "hmi_0.fits: out of memory enhancing the image of 36 x 30 pixels")


def test_out_of_memory_reading_is_one_line(folder, tmp_path, tiny_weights, capsys, monkeypatch):
    from enhance_lib.io import fits as fitsio

    def image_data(raw, header):
        raise MemoryError

    monkeypatch.setattr(fitsio, "image_data", image_data)
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", folder / "hmi_0.fits", "-o", dst, "-w", tiny_weights, "-q")
    _one_line_error(code, err, dst, "hmi_0.fits: out of memory reading the image of 36 x 30 pixels (0.00432 MB")
