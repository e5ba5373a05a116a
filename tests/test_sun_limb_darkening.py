"""Limb darkening: the quiet-Sun level, the fitted centre-to-limb profile, the standard law at 6173 A."""

import numpy as np
import pytest
from astropy.io import fits
from synthetic import I0, X0, Y0, N, R, law

from enhance_lib.errors import EnhanceError
from enhance_lib.sun.disk import DiskGeometry, disk_geometry
from enhance_lib.sun.limb_darkening import NECKEL_LABS_6173, limb_darkening, quiet_sun_level
from enhance_lib.sun.normalization import make_normalizer


def test_quiet_sun_level_synthetic():
    rng = np.random.default_rng(0)
    image = 1.0 + 0.04 * rng.standard_normal((200, 150))
    assert quiet_sun_level(image) == pytest.approx(1.0, abs=0.005)

    with_nan = image.copy()
    with_nan[:40] = np.nan
    with_nan[50, 50] = np.inf
    assert quiet_sun_level(with_nan) == pytest.approx(1.0, abs=0.005)

    spot = image.copy()
    spot[:, :45] = 0.3 + 0.05 * rng.standard_normal((200, 45))  # 30 % of the field
    assert np.median(spot) < 0.985  # the plain median is biased
    assert quiet_sun_level(spot) == pytest.approx(1.0, abs=0.005)

    faculae = spot.copy()
    faculae[:, 130:] *= 1.2
    assert quiet_sun_level(faculae) == pytest.approx(1.0, abs=0.01)
    assert quiet_sun_level(3.0e4 * faculae) == pytest.approx(3.0e4, rel=0.01)


def test_quiet_sun_level_leaves_input_alone():
    image = np.array([[1.0, np.nan], [0.9, 1.1]], np.float32)
    before = image.copy()
    quiet_sun_level(image)
    np.testing.assert_array_equal(image, before)


def test_quiet_sun_level_errors():
    with pytest.raises(EnhanceError, match="no finite pixels"):
        quiet_sun_level(np.full((4, 4), np.nan))
    with pytest.raises(EnhanceError, match="not positive"):
        quiet_sun_level(-np.ones((4, 4)))


@pytest.mark.shared_data
def test_quiet_sun_level_real_hmi(shared_data):
    """On the real HMI crop (I/I_qs, an active region with a sunspot) the level is ~1.

    The crop's own quiet Sun sits 2-3.5 % above 1 (histogram mode 1.02-1.03; mean of
    the field-free pixels 1.035), so the estimator is also checked against those pixels.
    """
    intensity = fits.getdata(shared_data / "hmi_sample_left.fits").astype(np.float32)
    blos = fits.getdata(shared_data / "blos_sample_left.fits").astype(np.float64)
    level = quiet_sun_level(intensity)
    assert level == pytest.approx(1.0, abs=0.035)
    field_free = intensity[np.abs(blos) < 50]  # G
    assert level == pytest.approx(field_free.mean(), rel=0.01)
    assert disk_geometry(None, intensity) is None
    norm = make_normalizer(intensity, fits.getheader(shared_data / "hmi_sample_left.fits"), kind="intensity")
    assert norm.geometry is None and norm.constant == pytest.approx(level)


def test_limb_darkening_fit(full_disk):
    geometry = DiskGeometry(X0, Y0, R)
    profile = limb_darkening(full_disk["data"], geometry)
    mu = np.linspace(0.1, 1.0, 37)
    np.testing.assert_allclose(profile(mu), I0 * law(mu), rtol=0.01)
    assert profile.centre == pytest.approx(I0, rel=0.005)
    grid = profile.evaluate((N, N))
    assert grid.dtype == np.float32 and np.isfinite(grid).all()
    inside = full_disk["mu"] > 0.2
    np.testing.assert_allclose(grid[inside], I0 * law(full_disk["mu"][inside]), rtol=0.01)


def test_limb_darkening_too_few_pixels():
    image = np.full((300, 300), np.nan)
    image[150, 150] = 1.0
    with pytest.raises(EnhanceError, match="too few"):
        limb_darkening(image, DiskGeometry(149.5, 149.5, 140.0))


def neckel_law(mu):
    return np.polynomial.polynomial.polyval(mu, NECKEL_LABS_6173)


@pytest.mark.backend
def test_neckel_labs_law_at_6173():
    # I(1) = 1 and the disk-averaged intensity 2 * int I mu dmu between the table's
    # F/I(1) values at 611 and 641 nm (0.8221, 0.8290), interpolated to 617.33 nm.
    k = np.arange(6)
    assert sum(NECKEL_LABS_6173) == pytest.approx(1.0, abs=1e-12)
    flux = 2 * sum(c / (i + 2) for c, i in zip(NECKEL_LABS_6173, k, strict=False))
    assert flux == pytest.approx(0.8221 + (617.33 - 610.975) / (640.970 - 610.975) * 0.0069, abs=3e-4)
    mu = np.linspace(0, 1, 101)
    assert np.all(np.diff(neckel_law(mu)) > 0) and 0.3 < neckel_law(0.0) < 0.33
