"""The solar disk: its geometry from the header or the NaN mask, mu on any grid."""

import numpy as np
import pytest
from astropy.io import fits
from synthetic import SCALE, X0, Y0, R, disk_hmi_header, true_mu

from enhance_lib.sun.disk import DiskGeometry, disk_geometry, mu_map


def test_disk_geometry_from_header(full_disk):
    geometry = disk_geometry(disk_hmi_header(), full_disk["data"])
    assert geometry.x0 == pytest.approx(X0, abs=1e-6)
    assert geometry.y0 == pytest.approx(Y0, abs=1e-6)
    assert geometry.radius == pytest.approx(R, rel=1e-9)


def test_disk_geometry_rotated_header(full_disk):
    # Older HMI data: CROTA2 = 180 and the reference pixel away from the Sun's centre.
    h = disk_hmi_header()
    h["CROTA2"] = 180.0
    h["CRPIX1"], h["CRPIX2"] = 256.5, 256.5
    h["CRVAL1"] = SCALE * (X0 - (h["CRPIX1"] - 1))
    h["CRVAL2"] = SCALE * (Y0 - (h["CRPIX2"] - 1))
    geometry = disk_geometry(h, full_disk["data"])
    assert geometry.x0 == pytest.approx(X0, abs=1e-3)
    assert geometry.y0 == pytest.approx(Y0, abs=1e-3)


def test_disk_geometry_r_sun_only(full_disk):
    h = disk_hmi_header()
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
    assert disk_geometry(disk_hmi_header(X0 - 150, Y0 - 150), cutout) is None
    # A small disk is not taken for the Sun.
    mu, on_disk = true_mu((100, 100), 49.5, 49.5, 40.0)
    small = np.where(on_disk, mu, np.nan)
    assert disk_geometry(None, small) is None
    # NaN corners around a square are not a disk.
    square = np.full((300, 300), np.nan)
    square[20:280, 20:280] = 1.0
    assert disk_geometry(None, square) is None


def test_disk_geometry_header_disagrees_with_mask(full_disk):
    from enhance_lib import EnhanceUserWarning

    with pytest.warns(EnhanceUserWarning, match="disagrees") as caught:
        geometry = disk_geometry(disk_hmi_header(x0=X0 + 30), full_disk["data"])
    assert geometry.x0 == pytest.approx(X0, abs=0.1)
    assert "disagrees" in str(caught[0].message)


def test_geometry_upsampled_and_mu():
    g = DiskGeometry(10.0, 20.0, 5.0)
    assert g.upsampled(2) == DiskGeometry(20.5, 40.5, 10.0)
    mu = mu_map((40, 30), g)
    assert mu[20, 10] == 1.0
    assert mu[20, 13] == pytest.approx(0.8)
    assert np.isnan(mu[0, 0])
