"""The synthetic Sun: granulation statistics, spots, pores, field, determinism."""

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.instrument import forward_model
from enhance_lib.nets.config import HMI_SCALE
from enhance_lib.training import synthetic_sun as sun
from enhance_lib.training.evaluation import contrast

SCALE = 0.06


@pytest.fixture(scope="module")
def quiet_scene():
    return sun.synthetic_sun(shape=(512, 512), pixel_scale=SCALE, seed=0)


@pytest.fixture(scope="module")
def spot_scene():
    return sun.synthetic_sun(
        shape=(512, 512),
        pixel_scale=SCALE,
        seed=4,
        spots=[sun.Spot(15.0, 15.0, radius=7.0, field=-2800.0)],
        pores=[sun.Pore(27.0, 4.0, radius=1.3, field=1500.0)],
        plage=[sun.PlageRegion(26.0, 26.0, radius=4.0, polarity=1)],
    )


def _grid_r(shape, scale, y, x):
    c_y = (np.arange(shape[0]) + 0.5) * scale
    c_x = (np.arange(shape[1]) + 0.5) * scale
    return np.hypot(c_y[:, None] - y, c_x[None, :] - x)


def test_scene_types(quiet_scene):
    assert quiet_scene.intensity.shape == (512, 512)
    assert quiet_scene.intensity.dtype == np.float32
    assert quiet_scene.blos.dtype == np.float32
    assert quiet_scene.pixel_scale == SCALE
    assert np.isfinite(quiet_scene.intensity).all() and np.isfinite(quiet_scene.blos).all()


def test_quiet_sun_contrast_full_resolution(quiet_scene):
    intensity = quiet_scene.intensity
    assert intensity.mean() == pytest.approx(1.0, abs=0.01)
    assert 0.13 <= contrast(intensity) <= 0.16


def test_quiet_sun_contrast_at_hmi(quiet_scene):
    hmi = forward_model.to_hmi(quiet_scene.intensity, pixel_scale=SCALE)
    assert hmi.shape == (60, 60)
    c = contrast(hmi[2:-2, 2:-2])
    assert 0.035 <= c <= 0.045, c
    # The 28 cm target is sharper than HMI and blurrier than the truth.
    target = forward_model.to_target(quiet_scene.intensity, pixel_scale=SCALE)
    assert c < contrast(target) < contrast(quiet_scene.intensity)


def test_granule_size(quiet_scene):
    image = quiet_scene.intensity - quiet_scene.intensity.mean()
    power = np.abs(np.fft.fft2(image)) ** 2
    k = np.fft.fftfreq(image.shape[0], d=SCALE)
    kr = np.hypot(k[:, None], k[None, :])
    bins = np.linspace(0.1, 3.0, 30)
    idx = np.digitize(kr.ravel(), bins)
    counts = np.bincount(idx, minlength=len(bins) + 1)
    mean_power = np.bincount(idx, power.ravel(), minlength=len(bins) + 1) / np.maximum(counts, 1)
    centres = 0.5 * (bins[1:] + bins[:-1])
    # Peak of k P(k): the dominant spatial scale.
    peak = centres[np.argmax(mean_power[1 : len(bins)] * centres)]
    assert 1.0 <= 1.0 / peak <= 2.0


def test_lanes_dark_and_narrow():
    rng = np.random.default_rng(3)
    image, edge = sun.granulation(shape=(256, 256), pixel_scale=SCALE, rng=rng)
    lanes = edge < 0.1
    assert image[lanes].mean() < 0.85
    assert image[edge > 0.4].mean() > 1.05
    assert lanes.mean() < 0.3  # narrow lanes, most of the area is granules


def test_weak_field_mixed_polarity(quiet_scene):
    b = quiet_scene.blos
    weak = np.abs(b) < 200
    assert weak.mean() > 0.95
    assert 10 < np.sqrt(np.mean(b[weak] ** 2)) < 100
    assert (b > 50).any() and (b < -50).any()


def test_spot_umbra_penumbra(spot_scene):
    r = _grid_r(spot_scene.shape, SCALE, 15.0, 15.0)
    umbra = spot_scene.intensity[r < 1.5].mean()
    penumbra = spot_scene.intensity[(r > 4.0) & (r < 6.0)].mean()
    assert 0.08 <= umbra <= 0.22
    assert 0.65 <= penumbra <= 0.85
    assert spot_scene.blos[r < 1.0].mean() < -2200
    b_pen = -spot_scene.blos[(r > 4.0) & (r < 6.0)].mean()
    assert 900 <= b_pen <= 1700
    assert -spot_scene.blos[(r > 6.5) & (r < 7.0)].mean() < b_pen
    # Penumbral filaments: azimuthal structure in the penumbra.
    assert spot_scene.intensity[(r > 4.0) & (r < 6.0)].std() > 0.05


def test_spot_at_hmi(spot_scene):
    hmi = forward_model.to_hmi(spot_scene.intensity, pixel_scale=SCALE)
    bh = forward_model.to_hmi(spot_scene.blos, pixel_scale=SCALE)
    r = _grid_r(hmi.shape, HMI_SCALE, 15.0, 15.0)
    assert 0.1 <= hmi[r < 1.0].mean() <= 0.3
    assert bh[r < 1.0].mean() < -2000


def test_pore_and_plage(spot_scene):
    r = _grid_r(spot_scene.shape, SCALE, 27.0, 4.0)
    assert spot_scene.intensity[r < 0.5].mean() < 0.7
    assert 1000 <= spot_scene.blos[r < 0.5].mean() <= 1800
    rp = _grid_r(spot_scene.shape, SCALE, 26.0, 26.0)
    b = spot_scene.blos[rp < 3.0]
    strong = np.abs(b) > 500
    assert strong.sum() > 50
    assert (b[strong] > 0).mean() > 0.8  # one dominant polarity
    assert np.abs(b).max() < 2000
    assert not spot_scene.quiet[rp < 3.0].any()


def test_deterministic_and_seed_dependent():
    a = sun.synthetic_sun(shape=(64, 96), seed=7, spots=1, pores=2, plage=1)
    b = sun.synthetic_sun(shape=(64, 96), seed=7, spots=1, pores=2, plage=1)
    c = sun.synthetic_sun(shape=(64, 96), seed=8, spots=1, pores=2, plage=1)
    np.testing.assert_array_equal(a.intensity, b.intensity)
    np.testing.assert_array_equal(a.blos, b.blos)
    assert a.spots == b.spots
    assert not np.array_equal(a.intensity, c.intensity)
    assert a.intensity.shape == (64, 96)


def test_errors():
    with pytest.raises(EnhanceError, match="too small"):
        sun.synthetic_sun(shape=(8, 8))
    with pytest.raises(EnhanceError, match="spots"):
        sun.synthetic_sun(shape=(32, 32), spots=-1)
    with pytest.raises(EnhanceError, match="Pore"):
        sun.synthetic_sun(shape=(32, 32), pores=["x"])


def _load_make_samples():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "samples" / "make_samples.py"
    spec = importlib.util.spec_from_file_location("make_samples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path.parent


@pytest.mark.slow
def test_samples_reproducible():
    from astropy.io import fits

    module, folder = _load_make_samples()
    images = module.make_images()
    for kind, name in module.FILES.items():
        with fits.open(folder / name) as hdul:
            data = hdul[0].data.astype(np.float32)
            header = hdul[0].header
        assert data.shape == (256, 256)
        atol = 1e-5 if kind == "intensity" else 1e-2
        np.testing.assert_allclose(images[kind], data, rtol=1e-5, atol=atol)
        assert header["CDELT1"] == header["CDELT2"] == 0.504
        assert header["CTYPE1"] == "HPLN-TAN" and header["CTYPE2"] == "HPLT-TAN"
        assert header["CRPIX1"] == 128.5 and header["TELESCOP"] == "SDO/HMI"
        assert "SYNTHETIC" in str(header["COMMENT"])
        assert (folder / name).stat().st_size < 300_000
    # HMI-like levels.
    intensity = images["intensity"]
    assert 0.1 <= intensity.min() <= 0.3
    assert 0.97 <= np.median(intensity) <= 1.02
    assert images["blos"].max() > 2000 and images["blos"].min() < -800
