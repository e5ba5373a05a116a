"""Shared fixtures: real data location, HMI-like headers and images, sunpy maps, tiny networks.

The headers and images themselves are built by ``synthetic.py`` beside this file.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import synthetic

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """On a backend that is not installed (KERAS_BACKEND=torch without torch), say so and
    run nothing, successfully: .ci/run tries every backend, CI installs only some."""
    from enhance_lib.errors import EnhanceError
    from enhance_lib.nets.backend import backend_name, check_installed

    try:
        backend_name()
    except EnhanceError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        check_installed()
    except EnhanceError as exc:
        pytest.exit(f"skipping the whole run: {exc}", returncode=pytest.ExitCode.OK)


def shared_data_dir():
    """The folder of real HMI data (``$ENHANCE_TEST_DATA``, else ``../shared/data``), or None."""
    env = os.environ.get("ENHANCE_TEST_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data():
    """Path of the real data folder; skips the test when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("real HMI data not found: set ENHANCE_TEST_DATA to the shared/data folder")
    return path


@pytest.fixture(scope="session")
def hmi_header():
    """Factory of helioprojective headers: ``hmi_header(cdelt=(0.504, 0.55), crpix=(10, 12),
    crval=(100, -50), cunit='arcsec', content=None, bunit=None, crota2=None, **cards)``
    (:func:`synthetic.hmi_header`); unequal pixel scales by default, so that swapped axes show."""
    return synthetic.hmi_header


@pytest.fixture(scope="session")
def hmi_image():
    """Factory of small synthetic continuum images: ``hmi_image(shape=(40, 36), seed=0, value=1.0)``,
    ``value`` x (1 + 4 % noise), float32."""

    def image(shape=(40, 36), seed=0, value=1.0):
        rng = np.random.default_rng(seed)
        return (value * (1 + 0.04 * rng.standard_normal(shape))).astype(np.float32)

    return image


@pytest.fixture(scope="session")
def full_disk():
    """The synthetic full disk of :func:`synthetic.full_disk` (512 x 512, limb-darkened, spots,
    faculae, NaN off the limb): a dict of 'data', 'mu' and the 'quiet' mask."""
    return synthetic.full_disk()


@pytest.fixture()
def hmi_folder(tmp_path):
    """A folder ``in/`` of three 30 x 36 HMI-like files, hmi_0.fits to hmi_2.fits (OBSNUM 0 to 2)."""
    src = tmp_path / "in"
    src.mkdir()
    for k in range(3):
        synthetic.write_hmi_file(src / f"hmi_{k}.fits", k)
    return src


@pytest.fixture(scope="session")
def make_map():
    """Factory of sunpy maps: ``sunpy_map(header, seed=0, scale=5e4)``, of NAXIS2 x NAXIS1
    (default 40 x 36) pixels of ``scale`` x (1 + 4 % noise); skips the test without sunpy."""
    maps = pytest.importorskip("sunpy.map", reason="sunpy not installed (pip install 'enhance-keras3[sunpy]')")

    def make(header, seed=0, scale=5e4):
        rng = np.random.default_rng(seed)
        shape = (header.get("NAXIS2", 40), header.get("NAXIS1", 36))
        data = scale * (1 + 0.04 * rng.standard_normal(shape))
        return maps.Map(data.astype(np.float32), header)

    return make


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A depth-1, 4-filter keepsize network with non-trivial BN statistics, saved in Keras 3 format."""
    from enhance_lib.nets.backend import set_random_seed
    from enhance_lib.nets.config import NetworkConfig
    from enhance_lib.nets.models import build_model
    from enhance_lib.nets.weights import save_weights

    set_random_seed(3)
    config = NetworkConfig(depth=1, filters=4)
    net = build_model(config)
    rng = np.random.default_rng(3)
    for layer in net.layers:
        if "BatchNormalization" in type(layer).__name__:
            n = layer.weights[0].shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n), rng.uniform(0.5, 2, n)]
            )
    path = tmp_path_factory.mktemp("net") / "tiny.weights.h5"
    save_weights(net, path, config=config)
    return path


@pytest.fixture(scope="session")
def tiny_error_weights(tmp_path_factory):
    """A depth-1, 4-filter error network (enhance_product 'error'), its output log-variances near
    log(0.01^2) (sigma ~0.01 in network units), calibrated with factors 1.5 and 0.5."""
    from enhance_lib.nets.backend import set_random_seed
    from enhance_lib.nets.config import NetworkConfig
    from enhance_lib.nets.models import build_model
    from enhance_lib.nets.weights import save_weights
    from enhance_lib.run.uncertainty import CALIBRATION_ATTR

    set_random_seed(5)
    config = NetworkConfig(depth=1, filters=4)
    net = build_model(config)
    last = net.layers[-1]
    kernel, bias = last.get_weights()
    last.set_weights([0.1 * kernel, np.full_like(bias, np.log(0.01**2))])
    path = tmp_path_factory.mktemp("net") / "tiny_error.weights.h5"
    calibration = {"faithful": {"noise": 1.5, "model": 0.5, "measured_on": "test"},
                   "conserve_flux": {"noise": 1.0, "model": 1.0, "measured_on": "test"}}
    save_weights(net, path, config=config, attrs={"enhance_product": "error", CALIBRATION_ATTR: calibration})
    return path


@pytest.fixture(scope="session")
def upsampling_weights(tmp_path_factory):
    """A depth-1 keepsize network initialised as nearest x2 upsampling: its output is known."""
    from enhance_lib.nets.config import NetworkConfig
    from enhance_lib.nets.models import build_model, upsampling_init
    from enhance_lib.nets.weights import save_weights

    config = NetworkConfig(depth=1, filters=4)
    net = upsampling_init(build_model(config), config)
    path = tmp_path_factory.mktemp("net") / "nearest.weights.h5"
    save_weights(net, path, config=config)
    return path


@pytest.fixture(autouse=True)
def _pristine_library_logger():
    """CLI mains configure the 'enhance_lib' logger for a terminal (also from module-scoped
    fixtures); give every test the default state, so caplog sees the library's records."""
    import logging

    logger = logging.getLogger("enhance_lib")
    logger.handlers[:], logger.level, logger.propagate = [], logging.NOTSET, True
    yield
    logger.handlers[:], logger.level, logger.propagate = [], logging.NOTSET, True


@pytest.fixture()
def toy_pair(tmp_path):
    """A low-resolution image, its nearest x2 upsampling, and both as FITS files."""
    rng = np.random.default_rng(5)
    low = rng.uniform(0.5, 1.5, (40, 36))
    high = np.kron(low, np.ones((2, 2)))
    low_path = synthetic.write_fits(tmp_path / "low.fits", low)
    return low, high, low_path, synthetic.write_fits(tmp_path / "high.fits", high)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A small simulated database (enhance-database simulate, 2 synthetic scenes)."""
    path = tmp_path_factory.mktemp("sim") / "sim.h5"
    from enhance_lib.scripts.database import main

    code = main(
        ["simulate", "-q", "-o", str(path), "--scenes", "2", "--scene-size", "256",
         "--patches", "12", "--patch-size", "8", "--seed", "3"]
    )
    assert code == 0
    return path


@pytest.fixture(scope="session")
def toy_db(tmp_path_factory):
    """A training database of 24 toy pairs (the x2 upsampling of noise)."""
    from enhance_lib.training.database_file import write_database

    path = tmp_path_factory.mktemp("db") / "train.h5"
    write_database(path, *synthetic.toy_pairs(24), attrs={"normalization": "none (toy)"})
    return path
