"""Tests of enhance_lib.sun.normalization: quiet-Sun level, disk geometry, limb darkening, normalisers."""


import numpy as np
import pytest
from astropy.io import fits

from enhance_lib.errors import EnhanceError
from enhance_lib.sun.disk import DiskGeometry, disk_geometry, mu_map
from enhance_lib.sun.limb_darkening import limb_darkening, quiet_sun_level
from enhance_lib.sun.normalization import make_normalizer

N, R, X0, Y0 = 512, 200.0, 255.3, 250.8  # off-centre, off-integer disk
I0 = 5.0e4  # quiet-Sun intensity at disk centre, in counts
SCALE = 0.504 * 1900 / R  # arcsec/px, as a 4096^2 HMI image binned to 512^2


def law(mu):
    """The synthetic Sun's limb darkening, I_qs(mu) / I_qs(1)."""
    return 1.0 - 0.6 * (1.0 - mu)


def _true_mu(shape, x0, y0, radius):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    rho2 = ((xx - x0) ** 2 + (yy - y0) ** 2) / radius**2
    return np.sqrt(np.clip(1.0 - rho2, 0.0, None)), rho2 <= 1.0


def _hmi_header(x0=X0, y0=Y0, radius=R):
    h = fits.Header()
    h["TELESCOP"] = "SDO/HMI"
    h["CTYPE1"], h["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    h["CUNIT1"], h["CUNIT2"] = "arcsec", "arcsec"
    h["CDELT1"] = h["CDELT2"] = SCALE
    h["CRPIX1"], h["CRPIX2"] = x0 + 1.0, y0 + 1.0  # FITS pixels are 1-based
    h["CRVAL1"] = h["CRVAL2"] = 0.0
    h["CROTA2"] = 0.0
    h["RSUN_OBS"] = radius * SCALE
    h["R_SUN"] = radius
    return h


@pytest.fixture(scope="module")
def full_disk():
    """A limb-darkened disk with 3 % granulation noise, two spots, faculae and NaN off the limb."""
    rng = np.random.default_rng(42)
    mu, on_disk = _true_mu((N, N), X0, Y0, R)
    quiet = I0 * law(mu) * (1.0 + 0.03 * rng.standard_normal((N, N)))
    image = quiet.copy()
    yy, xx = np.mgrid[0:N, 0:N]
    spots = np.zeros((N, N), bool)
    for cx, cy, size in ((280, 240, 18), (120, 300, 12)):  # near centre, and at mu ~ 0.4
        spot = np.hypot(xx - cx, yy - cy) < size
        image[spot] *= 0.25
        penumbra = (np.hypot(xx - cx, yy - cy) < 2 * size) & ~spot
        image[penumbra] *= 0.8
        spots |= spot | penumbra
    faculae = (np.hypot(xx - 400, yy - 330) < 20) & ~spots
    image[faculae] *= 1.15
    image[~on_disk] = np.nan
    return {"data": image.astype(np.float32), "mu": mu, "quiet": ~(spots | faculae) & on_disk}


# --- quiet-Sun level ------------------------------------------------------------------


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


# --- geometry -------------------------------------------------------------------------


def test_disk_geometry_from_header(full_disk):
    geometry = disk_geometry(_hmi_header(), full_disk["data"])
    assert geometry.x0 == pytest.approx(X0, abs=1e-6)
    assert geometry.y0 == pytest.approx(Y0, abs=1e-6)
    assert geometry.radius == pytest.approx(R, rel=1e-9)


def test_disk_geometry_rotated_header(full_disk):
    # Older HMI data: CROTA2 = 180 and the reference pixel away from the Sun's centre.
    h = _hmi_header()
    h["CROTA2"] = 180.0
    h["CRPIX1"], h["CRPIX2"] = 256.5, 256.5
    h["CRVAL1"] = SCALE * (X0 - (h["CRPIX1"] - 1))
    h["CRVAL2"] = SCALE * (Y0 - (h["CRPIX2"] - 1))
    geometry = disk_geometry(h, full_disk["data"])
    assert geometry.x0 == pytest.approx(X0, abs=1e-3)
    assert geometry.y0 == pytest.approx(Y0, abs=1e-3)


def test_disk_geometry_r_sun_only(full_disk):
    h = _hmi_header()
    del h["RSUN_OBS"]
    assert disk_geometry(h, full_disk["data"]).radius == R


def test_disk_geometry_from_nan_mask(full_disk):
    header = fits.Header([("TELESCOP", "SDO/HMI")])
    geometry = disk_geometry(header, full_disk["data"])
    assert geometry.x0 == pytest.approx(X0, abs=0.1)
    assert geometry.y0 == pytest.approx(Y0, abs=0.1)
    assert geometry.radius == pytest.approx(R, abs=0.5)
    assert disk_geometry(None, full_disk["data"]) == geometry


def test_disk_geometry_not_full_disk(full_disk):
    rng = np.random.default_rng(1)
    crop = 1.0 + 0.04 * rng.standard_normal((200, 140))
    assert disk_geometry(None, crop) is None
    few_nans = crop.copy()
    few_nans[0, 0] = few_nans[0, -1] = few_nans[-1, 0] = few_nans[-1, -1] = np.nan
    few_nans[50:55, 60:70] = np.nan
    assert disk_geometry(None, few_nans) is None
    # A cut-out of a full-disk observation: the header locates the disk, but the limb is off the image.
    cutout = full_disk["data"][150:350, 150:350]
    assert disk_geometry(_hmi_header(X0 - 150, Y0 - 150), cutout) is None
    # A small disk is not taken for the Sun.
    mu, on_disk = _true_mu((100, 100), 49.5, 49.5, 40.0)
    small = np.where(on_disk, mu, np.nan)
    assert disk_geometry(None, small) is None
    # NaN corners around a square are not a disk.
    square = np.full((300, 300), np.nan)
    square[20:280, 20:280] = 1.0
    assert disk_geometry(None, square) is None


def test_disk_geometry_header_disagrees_with_mask(full_disk):
    from enhance_lib import EnhanceUserWarning

    with pytest.warns(EnhanceUserWarning, match="disagrees") as caught:
        geometry = disk_geometry(_hmi_header(x0=X0 + 30), full_disk["data"])
    assert geometry.x0 == pytest.approx(X0, abs=0.1)
    assert "disagrees" in str(caught[0].message)


def test_geometry_upsampled_and_mu():
    g = DiskGeometry(10.0, 20.0, 5.0)
    assert g.upsampled(2) == DiskGeometry(20.5, 40.5, 10.0)
    mu = mu_map((40, 30), g)
    assert mu[20, 10] == 1.0
    assert mu[20, 13] == pytest.approx(0.8)
    assert np.isnan(mu[0, 0])


# --- limb darkening -------------------------------------------------------------------


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


# --- normalisers ----------------------------------------------------------------------


@pytest.mark.parametrize("use_header", [True, False])
def test_quiet_sun_full_disk(full_disk, use_header):
    data = full_disk["data"]
    before = data.copy()
    header = _hmi_header() if use_header else fits.Header()
    norm = make_normalizer(data, header, kind="intensity")
    assert norm.method == "quiet-sun"
    assert norm.geometry is not None
    assert norm.constant == pytest.approx(I0, rel=0.005)  # ENHNORM: I_qs at disk centre
    assert "limb-darkening" in norm.describe()
    out = norm.normalize(data)
    np.testing.assert_array_equal(data, before)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out), np.isnan(data))
    mu, quiet = full_disk["mu"], full_disk["quiet"]
    for target in (0.95, 0.6, 0.3):
        ring = quiet & (np.abs(mu - target) < 0.03)
        assert quiet_sun_level(out[ring]) == pytest.approx(1.0, abs=0.02), target
    # Spots stay dark relative to their surroundings.
    assert np.nanmedian(out[235:245, 275:285]) < 0.35


def test_denormalize_on_the_x2_grid(full_disk):
    data = full_disk["data"]
    norm = make_normalizer(data, _hmi_header(), kind="intensity")
    normalized = norm.normalize(data)
    upsampled = np.kron(normalized, np.ones((2, 2), np.float32))
    restored = norm.denormalize(upsampled)
    assert restored.shape == (2 * N, 2 * N) and restored.dtype == np.float32
    mu2, _ = _true_mu((2 * N, 2 * N), 2 * X0 + 0.5, 2 * Y0 + 0.5, 2 * R)
    inside = (mu2 > 0.1) & np.isfinite(restored)
    # restored / upsampled is the profile, evaluated on the fine grid.
    np.testing.assert_allclose(restored[inside] / upsampled[inside], I0 * law(mu2[inside]), rtol=0.01)
    # Flat network output: the x2 image is exactly the limb-darkened quiet Sun.
    flat = norm.denormalize(np.ones((2 * N, 2 * N)))
    np.testing.assert_allclose(flat[mu2 > 0.1], I0 * law(mu2[mu2 > 0.1]), rtol=0.01)
    # The round trip of a block-replicated image gives the input back at block centres.
    block = restored.reshape(N, 2, N, 2).mean(axis=(1, 3))
    ok = np.isfinite(block) & (full_disk["mu"] > 0.1)
    np.testing.assert_allclose(block[ok], data[ok], rtol=0.01)
    with pytest.raises(ValueError):
        norm.denormalize(np.ones((N, N)))


def test_quiet_sun_partial_image():
    rng = np.random.default_rng(5)
    image = 3.0e4 * (1.0 + 0.04 * rng.standard_normal((64, 80)))
    image[:10, :10] = np.nan
    norm = make_normalizer(image, None, kind="intensity", method="quiet-sun")
    assert norm.geometry is None
    assert norm.constant == pytest.approx(3.0e4, rel=0.01)
    assert norm.describe().startswith("quiet-sun")
    out = norm.normalize(image)
    assert np.isnan(out[0, 0]) and np.nanmedian(out) == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(norm.denormalize(np.ones((128, 160))), norm.constant, rtol=1e-6)


def test_max_none_and_numbers():
    image = np.array([[1.0, 2.0, np.nan], [4.0, 0.5, 3.0]], np.float32)
    norm = make_normalizer(image, None, kind="intensity", method="max")
    assert norm.method == "max" and norm.constant == 4.0
    np.testing.assert_allclose(norm.normalize(image), image / 4.0)
    np.testing.assert_allclose(norm.denormalize(np.ones((4, 6))), 4.0)

    none = make_normalizer(image, None, kind="intensity", method="none")
    assert none.constant == 1.0 and none.method == "none"
    out = none.normalize(image)
    assert out is not image
    np.testing.assert_array_equal(out, image)

    for method in (250, 250.0, "250", " 2.5e2 "):
        number = make_normalizer(image, None, kind="intensity", method=method)
        assert number.constant == 250.0 and number.method == "constant"
        np.testing.assert_allclose(number.normalize(image), image / 250.0)

    blos = make_normalizer(image * 1000 - 2000, None, kind="blos")
    assert blos.constant == 1000.0 and blos.method == "constant"
    assert "kG" in blos.describe()
    np.testing.assert_allclose(blos.denormalize(np.full((4, 6), 1.5)), 1500.0)


def test_invalid_methods():
    image = np.ones((8, 8), np.float32)
    with pytest.raises(EnhanceError, match="quiet-sun normalisation applies to intensity only"):
        make_normalizer(image, None, kind="blos", method="quiet-sun")
    for bad in ("-1", 0, -3.0, "0", "nan", float("inf")):
        with pytest.raises(EnhanceError, match="positive number"):
            make_normalizer(image, None, kind="intensity", method=bad)
    for bad in ("median", "", True, [1]):
        with pytest.raises(EnhanceError, match="unknown normalisation"):
            make_normalizer(image, None, kind="intensity", method=bad)
    with pytest.raises(EnhanceError, match="unknown type"):
        make_normalizer(image, None, kind="doppler")
    with pytest.raises(EnhanceError, match="not positive"):
        make_normalizer(-image, None, kind="blos", method="max")
    with pytest.raises(EnhanceError, match="no finite pixels"):
        make_normalizer(np.full((8, 8), np.nan), None, kind="intensity")
    with pytest.raises(ValueError):
        make_normalizer(np.ones((2, 8, 8)), None, kind="intensity")
