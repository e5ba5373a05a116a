"""Tests of enhance_lib.sun.normalization: the normalisers (quiet Sun with the limb-darkening fit of a
full disk, max, none, numbers) and their inverse on the x2 grid."""

import numpy as np
import pytest
from astropy.io import fits
from synthetic import I0, X0, Y0, N, R, disk_hmi_header, law, true_mu

from enhance_lib.errors import EnhanceError
from enhance_lib.sun.limb_darkening import quiet_sun_level
from enhance_lib.sun.normalization import make_normalizer


@pytest.mark.parametrize("use_header", [True, False])
def test_quiet_sun_full_disk(full_disk, use_header):
    data = full_disk["data"]
    before = data.copy()
    header = disk_hmi_header() if use_header else fits.Header()
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
    norm = make_normalizer(data, disk_hmi_header(), kind="intensity")
    normalized = norm.normalize(data)
    upsampled = np.kron(normalized, np.ones((2, 2), np.float32))
    restored = norm.denormalize(upsampled)
    assert restored.shape == (2 * N, 2 * N) and restored.dtype == np.float32
    mu2, _ = true_mu((2 * N, 2 * N), 2 * X0 + 0.5, 2 * Y0 + 0.5, 2 * R)
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
    with pytest.raises(EnhanceError, match="unknown data type"):
        make_normalizer(image, None, kind="doppler")
    with pytest.raises(EnhanceError, match="not positive"):
        make_normalizer(-image, None, kind="blos", method="max")
    with pytest.raises(EnhanceError, match="no finite pixels"):
        make_normalizer(np.full((8, 8), np.nan), None, kind="intensity")
    with pytest.raises(ValueError):
        make_normalizer(np.ones((2, 8, 8)), None, kind="intensity")
