"""Dask: a local cluster or a scheduler enhances a batch as the serial run does."""

import os
import re
import signal

import numpy as np
import pytest
from astropy.io import fits
from synthetic import write_hmi_file

from enhance_lib.run.batch import enhance_files, output_paths
from enhance_lib.run.enhancer import Enhancer
from enhance_lib.run.options import EnhanceOptions
from enhance_lib.scripts.enhance import main as enhance_main

PROGRESS_LINE = re.compile(r"^enhancing: (\d+)/(\d+) files \(\d+ s\)$")


def _run(capsys, *argv):
    code = enhance_main([str(a) for a in argv])
    return code, capsys.readouterr().err


def _without_history(header):
    """The header without HISTORY, COMMENT and DATE (when the file was written)."""
    return {k: v for k, v in header.items() if k not in ("HISTORY", "COMMENT", "DATE")}


@pytest.mark.slow
def test_local_dask_cluster_equals_the_serial_run(hmi_folder, tmp_path, tiny_weights, tiny_error_weights, capsys):
    """With the products too: the residual and the uncertainty maps (seeded draws) are the serial run's."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
    (hmi_folder / "hmi_1b.fits").write_text("not a FITS file")
    serial, dask_out = tmp_path / "serial", tmp_path / "dask"
    products = ["--residual", "--uncertainty", "--draws", "2", "--error-weights", tiny_error_weights]
    assert _run(capsys, "-i", hmi_folder, "-o", serial, "-w", tiny_weights, "-q", *products)[0] == 1
    code, err = _run(capsys, "-i", hmi_folder, "-o", dask_out, "-w", tiny_weights, "-q", "--workers", "2", *products)
    assert code == 1  # the bad file fails there too, the others are done
    assert len([line for line in err.splitlines() if "hmi_1b.fits" in line]) == 1
    assert sorted(p.name for p in dask_out.iterdir()) == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits"]
    for name in ("hmi_0.fits", "hmi_1.fits", "hmi_2.fits"):
        with fits.open(serial / name) as a, fits.open(dask_out / name) as b:
            assert [h.name for h in b] == ["PRIMARY", "RESIDUAL", "UNCERT", "UNCNOISE", "UNCMODEL"]
            for ha, hb in zip(a, b, strict=True):
                np.testing.assert_array_equal(ha.data, hb.data)
            assert _without_history(a[0].header) == _without_history(b[0].header)


def test_workers_without_dask_is_one_line(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "dask" or name.startswith(("dask.", "distributed")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    code, err = _run(capsys, "-i", hmi_folder, "-o", tmp_path / "out", "-w", tiny_weights, "--workers", "2")
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


@pytest.mark.slow
def test_one_cluster_for_all_data_types(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
    for k in (3, 4):  # magnetograms beside the three intensity files (the tiny network records no data type)
        write_hmi_file(hmi_folder / f"hmi_{k}.fits", k, CONTENT="MAGNETOGRAM", BUNIT="Gauss")
    serial, dask_out = tmp_path / "serial", tmp_path / "dask"
    assert _run(capsys, "-i", hmi_folder, "-o", serial, "-w", tiny_weights, "-q")[0] == 0
    started = _spy_local_clusters(monkeypatch)
    code, err = _run(capsys, "-i", hmi_folder, "-o", dask_out, "-w", tiny_weights, "--workers", "2")
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


def test_nothing_to_do_starts_no_cluster(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    distributed = pytest.importorskip("distributed",
                                      reason="dask.distributed is not installed (pip install -e '.[dask]')")
    out = tmp_path / "out"
    out.mkdir()
    for k in range(3):
        (out / f"hmi_{k}.fits").write_bytes(b"an earlier result")
    started = _spy_local_clusters(monkeypatch)
    clients = []
    monkeypatch.setattr(distributed, "Client", lambda *a, **kw: clients.append(a) or pytest.fail("a Client"))
    code, err = _run(capsys, "-i", hmi_folder, "-o", out, "-w", tiny_weights, "--workers", "2", "--skip-existing")
    assert code == 0, err
    assert err.splitlines()[-1].startswith("0 done, 3 skipped, 0 failed")
    # one input, and an existing cluster's address (nothing listens there)
    code, err = _run(capsys, "-i", hmi_folder / "hmi_0.fits", "-o", out / "hmi_0.fits", "-w", tiny_weights,
                     "--workers", "2", "--skip-existing")
    assert code == 0, err
    code, err = _run(capsys, "-i", hmi_folder, "-o", out, "-w", tiny_weights, "--scheduler", "tcp://127.0.0.1:9",
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
        write_hmi_file(path, k)
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
