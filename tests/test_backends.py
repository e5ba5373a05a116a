"""Every Keras backend: choosing one, its errors, no TensorFlow where it is not the backend,
the same results as TensorFlow (shipped, legacy and tiny networks, NaN and the limb), and
weights that move between backends.

The other backends run in subprocesses (Keras picks its backend once per process); a backend
whose package is not installed is skipped with the pip extra that installs it.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from conftest import shared_data_dir

from enhance_lib.nets.backend import BACKENDS, backend_name

REPO = Path(__file__).resolve().parent.parent

# Runs enhance/train mains in one process on $KERAS_BACKEND; reports exit codes and
# whether TensorFlow was imported. "--no-tf" makes TensorFlow look uninstalled.
RUNNER = """
import json, sys
if "--no-tf" in sys.argv[2:]:
    sys.modules["tensorflow"] = None
from enhance_lib.scripts.enhance import main as enhance_main
from enhance_lib.scripts.train import main as train_main
mains = {"enhance": enhance_main, "train": train_main}
codes = [mains[prog](argv) for prog, argv in json.loads(sys.argv[1])]
print(json.dumps({"codes": codes, "tensorflow": sys.modules.get("tensorflow") is not None}))
"""


def installed(backend):
    return importlib.util.find_spec(BACKENDS[backend][0]) is not None


def need(backend):
    if not installed(backend):
        extra = BACKENDS[backend][1]
        how = f"pip install -e '.[{extra}]'" if extra else "pip install tensorflow"
        pytest.skip(f"{BACKENDS[backend][0]} is not installed ({how})")


def run_jobs(backend, jobs, *, cwd, no_tf=False):
    """Run ``[(prog, argv), ...]`` on ``backend`` in a subprocess; return its report."""
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    argv = [sys.executable, "-c", RUNNER, json.dumps(jobs)] + (["--no-tf"] if no_tf else [])
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0] * len(jobs), proc.stderr[-3000:]
    return report


def _full_disk(path, n=96, radius=40.3, centre=(47.6, 48.2)):
    """A limb-darkened disk with granulation-like noise and a spot; NaN off the limb."""
    rng = np.random.default_rng(8)
    yy, xx = np.mgrid[0:n, 0:n]
    rho = np.hypot(xx - centre[0], yy - centre[1]) / radius
    mu = np.sqrt(np.clip(1 - rho**2, 0, None))
    data = 5e4 * (1 - 0.6 * (1 - mu)) * (1 + 0.03 * rng.standard_normal((n, n)))
    data[np.hypot(xx - 40, yy - 55) < 5] *= 0.3
    data[rho > 1] = np.nan
    scale = 0.504 * 1900 / radius
    header = fits.Header()
    header["TELESCOP"] = "SDO/HMI"
    header["CTYPE1"], header["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    header["CUNIT1"], header["CUNIT2"] = "arcsec", "arcsec"
    header["CDELT1"] = header["CDELT2"] = scale
    header["CRPIX1"], header["CRPIX2"] = centre[0] + 1, centre[1] + 1
    header["CRVAL1"] = header["CRVAL2"] = 0.0
    header["RSUN_OBS"] = radius * scale
    fits.PrimaryHDU(data.astype(np.float32), header=header).writeto(path)


@pytest.fixture(scope="module")
def jobs(tmp_path_factory, tiny_weights):
    """Enhance jobs covering the shipped, tiny and legacy networks, tiles, NaN and a limb."""
    folder = tmp_path_factory.mktemp("backend_inputs")
    _full_disk(folder / "disk.fits")
    fits.PrimaryHDU(np.random.default_rng(1).normal(1, 0.05, (37, 53)).astype(np.float32)).writeto(folder / "odd.fits")
    todo = {
        "hmi": ["-i", REPO / "samples/hmi.fits", "-t", "intensity"],
        "blos": ["-i", REPO / "samples/blos.fits", "-t", "blos"],
        "disk": ["-i", folder / "disk.fits", "-t", "intensity", "--tile", "24"],
        "tiny_tiles": ["-i", folder / "odd.fits", "-w", tiny_weights, "-n", "none", "--tile", "9"],
    }
    data = shared_data_dir()
    if data is not None:
        todo["legacy_intensity"] = [
            "-i", data / "hmi_sample_left.fits", "-w", data / "legacy/intensity_weights_only.hdf5", "-n", "max",
        ]
        todo["legacy_blos"] = [
            "-i", data / "blos_sample_left.fits", "-t", "blos", "-w", data / "legacy/blos_whole_model.hdf5",
        ]
    return {name: [str(a) for a in argv] for name, argv in todo.items()}


_results = {}


@pytest.fixture(scope="module")
def outputs(jobs, tmp_path_factory):
    """``outputs(backend)``: {job: (data, header)}, computed once per backend."""

    def compute(backend):
        if backend not in _results:
            need(backend)
            folder = tmp_path_factory.mktemp(f"out_{backend}")
            todo = [("enhance", argv + ["-o", str(folder / f"{name}.fits"), "-q"]) for name, argv in jobs.items()]
            if backend == backend_name():
                from enhance_lib.scripts.enhance import main as enhance_main

                assert [enhance_main(argv) for _, argv in todo] == [0] * len(todo)
            else:
                run_jobs(backend, todo, cwd=folder)
            _results[backend] = {
                name: (fits.getdata(folder / f"{name}.fits"), fits.getheader(folder / f"{name}.fits")) for name in jobs
            }
        return _results[backend]

    return compute


def _relative_rms(a, b):
    return np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2))


@pytest.mark.slow
@pytest.mark.backend
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_every_job_matches_tensorflow(outputs, backend):
    need("tensorflow")
    reference, ours = outputs("tensorflow"), outputs(backend)
    for name, (want, want_header) in reference.items():
        got, header = ours[name]
        assert got.shape == want.shape, name
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)  # NaN and limb identical
        finite = np.isfinite(want)
        assert _relative_rms(got[finite], want[finite]) < 1e-5, name
        history = " ".join(str(h) for h in header["HISTORY"])
        assert "backend: keras" in history and f", {backend} " in history, name
        assert header["ENHNORM"] == pytest.approx(want_header["ENHNORM"], rel=1e-6), name


@pytest.mark.backend
def test_history_names_the_backend_that_ran(outputs):
    name = backend_name()
    header = outputs(name)["hmi"][1]
    history = " ".join(str(h) for h in header["HISTORY"])
    assert f", {name} " in history and "on cpu (float32)" in history


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_runs_without_tensorflow_installed(backend, tmp_path):
    """enhance, train (start and continue) and the database builder where TensorFlow is absent."""
    need(backend)
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(REPO))
    db = [sys.executable, "-c", "import sys; sys.modules['tensorflow'] = None; "
          "from enhance_lib.scripts.database import main; sys.exit(main(sys.argv[1:]))",
          "simulate", "-o", "db.h5", "-t", "intensity", "--patches", "24", "--seed", "1", "--scenes", "1"]
    proc = subprocess.run(db, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    train = ["--database", "db.h5", "--validation-split", "0.25", "--output", "toy", "--epochs", "1",
             "--depth", "1", "--kernels", "4", "--batchsize", "8", "--seed", "3", "--quiet"]
    report = run_jobs(backend, [
        ("train", train + ["--action", "start"]),
        ("train", train + ["--action", "continue"]),
        ("enhance", ["-i", str(REPO / "samples/hmi.fits"), "-o", "out.fits", "-w", "toy_1.weights.h5", "-q"]),
    ], cwd=tmp_path, no_tf=True)
    assert not report["tensorflow"]
    assert len(json.loads((tmp_path / "toy_1_loss.json").read_text())) == 3  # header + 2 epochs
    assert np.isfinite(fits.getdata(tmp_path / "out.fits")).all()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_tensorflow_is_not_imported_on_other_backends(backend, tmp_path):
    need(backend)
    job = ("enhance", ["-i", str(REPO / "samples/blos.fits"), "-t", "blos", "-o", "o.fits", "-q"])
    report = run_jobs(backend, [job],
                      cwd=tmp_path)
    assert not report["tensorflow"]


@pytest.mark.slow
@pytest.mark.parametrize("writer, reader", [("jax", "tensorflow"), ("tensorflow", "jax")])
def test_weights_written_on_one_backend_predict_the_same_on_another(writer, reader, tmp_path):
    """A network trained and saved on one backend loads on the other and predicts the same."""
    need(writer)
    need(reader)
    from enhance_lib.training.database_file import write_database

    rng = np.random.default_rng(4)
    write_database(tmp_path / "db.h5", rng.normal(1, 0.1, (16, 12, 12, 1)).astype(np.float32),
                   rng.normal(1, 0.1, (16, 24, 24, 1)).astype(np.float32))
    fits.PrimaryHDU(rng.normal(1, 0.1, (30, 26)).astype(np.float32)).writeto(tmp_path / "in.fits")
    train = ["--database", "db.h5", "--validation-split", "0.25", "--output", "net", "--epochs", "1",
             "--depth", "1", "--kernels", "4", "--batchsize", "4", "--seed", "1", "--init", "he_normal",
             "--action", "start", "--quiet"]
    enhance = ["-i", "in.fits", "-w", "net_1.weights.h5", "-n", "none", "--tile", "8", "-q"]
    run_jobs(writer, [("train", train), ("enhance", enhance + ["-o", f"{writer}.fits"])], cwd=tmp_path)
    run_jobs(reader, [("enhance", enhance + ["-o", f"{reader}.fits"])], cwd=tmp_path)
    written, read = fits.getdata(tmp_path / f"{writer}.fits"), fits.getdata(tmp_path / f"{reader}.fits")
    assert np.ptp(written) > 0
    assert _relative_rms(read, written) < 1e-5


# ---- choosing a backend and a device: errors are one line, exit code 2 ----


def _cli(env_backend, *argv, cwd):
    env = dict(os.environ, KERAS_BACKEND=env_backend, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "enhance.py"), *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_unknown_backend_is_one_line(tmp_path):
    proc = _cli("theano", "-i", REPO / "samples/hmi.fits", "-o", "o.fits", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "enhance: error: unknown KERAS_BACKEND 'theano'; choose one of tensorflow, jax, torch"
    assert not (tmp_path / "o.fits").exists()


@pytest.mark.slow
def test_missing_backend_package_names_the_extra(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=str(REPO))
    code = ("import sys; sys.modules['torch'] = None; from enhance_lib.scripts.enhance import main as enhance_main; "
            "sys.exit(enhance_main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "-i", str(REPO / "samples/hmi.fits"), "-o", "o.fits"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "the torch backend needs torch, which is not installed" in lines[0]
    assert "enhance-keras3[torch]" in lines[0]
