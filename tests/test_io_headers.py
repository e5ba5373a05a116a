"""Tests of enhance_lib.io.headers: the header of the x2 grid (WCS, HMI's pixel keywords, comments),
HISTORY, the pixel scale."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from synthetic import wcs_header

from enhance_lib.io.headers import add_history, pixel_scale, upsample_header


@pytest.mark.parametrize("variant", ["pc", "crota", "cd"])
def test_upsample_header_wcs(variant):
    header = wcs_header(variant)
    before = header.tostring()
    new = upsample_header(header, shape=(24, 20))
    assert header.tostring() == before  # input untouched
    w_in, w_out = WCS(header), WCS(new)

    # The outer corner of the image is the same point on the Sun.
    np.testing.assert_allclose(
        w_out.pixel_to_world_values(-0.5, -0.5), w_in.pixel_to_world_values(-0.5, -0.5), rtol=0, atol=1e-6 / 3600
    )
    # Each input pixel centre is the centre of its 2x2 output block.
    jj, ii = np.mgrid[0:12, 0:10]
    lon_in, lat_in = w_in.pixel_to_world_values(ii, jj)
    lon_out, lat_out = w_out.pixel_to_world_values(2 * ii + 0.5, 2 * jj + 0.5)
    # WCS values are in degrees; compare to ~1e-6 arcsec.
    np.testing.assert_allclose(lon_out, lon_in, rtol=0, atol=1e-6 / 3600)
    np.testing.assert_allclose(lat_out, lat_in, rtol=0, atol=1e-6 / 3600)
    # The grid is really finer: one output pixel is half an input pixel.
    lon1, lat1 = w_out.pixel_to_world_values(1.0, 0.0)
    lon0, lat0 = w_out.pixel_to_world_values(0.0, 0.0)
    assert np.hypot(lon1 - lon0, lat1 - lat0) * 3600 == pytest.approx(0.25, rel=1e-3)


def test_upsample_header_keywords():
    header = wcs_header("pc")
    new = upsample_header(header, shape=(24, 20))
    assert new["NAXIS1"] == 20 and new["NAXIS2"] == 24 and new["BITPIX"] == -32
    assert new["CDELT1"] == 0.25 and new["CDELT2"] == pytest.approx(0.3)
    assert new["CRPIX1"] == pytest.approx(2 * (3.3 - 0.5) + 0.5)
    assert new.comments["CRPIX1"] == "x2 grid: 2*(input's - 0.5) + 0.5"
    assert new["CRVAL1"] == -120.0 and new["PC1_1"] == header["PC1_1"]
    assert new["R_SUN"] == 2 * 1905.0
    assert new["X0_MP"] == pytest.approx(2 * 2047.3 + 0.5)
    assert new["Y0_MP"] == pytest.approx(2 * 2049.1 + 0.5)
    assert new["IMSCL_MP"] == pytest.approx(0.252)
    dropped = {"DATAMIN", "DATAMAX", "TOTVALS", "DATAVALS", "MISSVALS", "DATAMEAN", "DATARMS", "DATAMED2", "DATAP99"}
    assert not dropped & set(new.keys())
    assert new["DATASIGN"] == 1
    rescaled = {"CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "R_SUN", "X0_MP", "Y0_MP", "IMSCL_MP"}
    changed = {"NAXIS1", "NAXIS2"} | rescaled
    for card in header.cards:
        if card.keyword in ("COMMENT", "HISTORY", "") or card.keyword in dropped:
            continue
        assert card.keyword in new, card.keyword
        if card.keyword in rescaled:  # the input's comment described the input's grid
            assert new.comments[card.keyword].startswith("x2 grid: "), card.keyword
        else:
            assert new.comments[card.keyword] == card.comment
        if card.keyword not in changed | dropped:
            assert new[card.keyword] == card.value, card.keyword
    assert list(new["HISTORY"]) == ["first processing step"]
    assert list(new["COMMENT"]) == ["a comment card"]
    # The alternative HMI X0/Y0 keywords and unrelated pixel values follow the x2 rule:
    # the input centre x maps to output 2x + 0.5 (0-based).
    x0 = header["X0_MP"]
    assert new["X0_MP"] == pytest.approx((x0 + 0.5) * 2 - 0.5)


def test_upsample_header_comments_say_the_x2_grid_and_keep_units():
    """HMI's comments (``[arcsec/pixel] HMI's pixel scale``) would be false after x2: the
    rescaled keywords say the rule, after the unit in brackets; the values are the rule's."""
    header = fits.Header()
    for key, value, comment in (
        ("CDELT1", 0.504, "[arcsec/pixel] HMI's pixel scale"), ("CDELT2", 0.504, ""),
        ("CD1_1", 0.504, "[arcsec/pixel]"), ("CRPIX1", 2048.5, "[pixel] location of the Sun's centre"),
        ("CRPIX2", 2050.0, "reference pixel"), ("R_SUN", 1905.2, "[pixel] radius of the Sun"),
        ("X0_MP", 2047.3, "[pixel] x of the disk centre"), ("Y0_MP", 2049.1, ""),
        ("IMSCL_MP", 0.504, "[arcsec/pixel] image scale"), ("CRVAL1", 12.0, "[arcsec] Sun's centre"),
        ("CDELT1A", 0.5, "[a unit too long to keep beside the rule, in brackets] x"),
    ):
        header[key] = (value, comment)
    new = upsample_header(header, shape=(8192, 8192))
    expected = {
        "CDELT1": (0.252, "[arcsec/pixel] x2 grid: input's / 2"),
        "CDELT2": (0.252, "x2 grid: input's / 2"),
        "CD1_1": (0.252, "[arcsec/pixel] x2 grid: input's / 2"),
        "CRPIX1": (4096.5, "[pixel] x2 grid: 2*(input's - 0.5) + 0.5"),
        "CRPIX2": (4099.5, "x2 grid: 2*(input's - 0.5) + 0.5"),
        "R_SUN": (3810.4, "[pixel] x2 grid: input's * 2"),
        "X0_MP": (4095.1, "[pixel] x2 grid: 2*input's + 0.5"),
        "Y0_MP": (4098.7, "x2 grid: 2*input's + 0.5"),
        "IMSCL_MP": (0.252, "[arcsec/pixel] x2 grid: input's / 2"),
        "CRVAL1": (12.0, "[arcsec] Sun's centre"),  # not rescaled: as it was
        "CDELT1A": (0.25, "x2 grid: input's / 2"),
    }
    for key, (value, comment) in expected.items():
        assert new[key] == pytest.approx(value) and new.comments[key] == comment, key
    assert header.comments["CDELT1"] == "[arcsec/pixel] HMI's pixel scale"  # the input's header untouched
    # three times finer: the rule's numbers follow the factor
    new3 = upsample_header(header, shape=(3, 3), factor=3)
    assert new3.comments["X0_MP"] == "[pixel] x3 grid: 3*input's + 1"
    assert new3["X0_MP"] == pytest.approx(3 * 2047.3 + 1)


def test_upsample_header_cube_and_structural():
    header = fits.ImageHDU(np.zeros((3, 12, 10), np.float32)).header
    header["BSCALE"] = 1.0
    header["BZERO"] = 0.0
    header["CHECKSUM"] = "abc"
    header["DATASUM"] = "0"
    header["ZIMAGE"] = True
    header["ZBITPIX"] = 16
    header["ZOOM"] = (3, "not a compression keyword")
    header["CDELT3"] = 7.0
    header["CRPIX3"] = 2.0
    new = upsample_header(header, shape=(24, 20))
    assert new.cards[0].keyword == "SIMPLE" and new["SIMPLE"] is True
    for key in ("XTENSION", "PCOUNT", "GCOUNT", "BSCALE", "BZERO", "CHECKSUM", "DATASUM", "ZIMAGE", "ZBITPIX"):
        assert key not in new
    assert new["ZOOM"] == 3
    assert new["NAXIS"] == 3 and new["NAXIS3"] == 3
    assert new["CDELT3"] == 7.0 and new["CRPIX3"] == 2.0
    assert header["XTENSION"] == "IMAGE"  # untouched


def test_upsample_header_factor_and_bad_shape():
    header = fits.Header([("CRPIX1", 1.0), ("CDELT1", 1.0)])
    new = upsample_header(header, shape=(3, 3), factor=3)
    assert new["CRPIX1"] == pytest.approx(3 * 0.5 + 0.5)
    assert new["CDELT1"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        upsample_header(header, shape=(2, 3, 3))


def test_add_history():
    header = fits.Header([("A", 1)])
    new = add_history(header, ["one", "two"])
    assert list(new["HISTORY"]) == ["one", "two"]
    assert "HISTORY" not in header
    assert list(add_history(new, "three")["HISTORY"]) == ["one", "two", "three"]


def test_add_history_splits_long_lines_between_words(tmp_path):
    """A line longer than a card continues on the next between words (astropy alone cut the
    forward check's line as "... measure" / "d on ..."); a word longer than a card is cut."""
    line = ("forward check (ENHFWD): the output through HMI's PSF (Wachter+2012 form, Enhance's parameters) "
            "and pixels differs from the input by 1.23 % of the input's RMS; within 3x the network's "
            "in-domain level 1.00 % (measured on synthetic HMI data)")
    long_word = "x" * 100
    fits.PrimaryHDU(header=add_history(fits.Header(), [line, long_word, "short"])).writeto(tmp_path / "h.fits")
    cards = list(fits.getheader(tmp_path / "h.fits")["HISTORY"])
    assert all(len(card) <= 72 for card in cards)
    assert cards[-3:] == ["x" * 72, "x" * 28, "short"]
    text = cards[:-3]
    assert " ".join(text) == line  # every card ends and begins at a space of the line
    assert [word for card in text for word in card.split()] == line.split()


def test_pixel_scale_from_cd_matrix_and_units():
    assert pixel_scale({"CUNIT1": "arcsec", "CUNIT2": "arcsec", "CDELT1": -0.6, "CDELT2": 0.6}) == pytest.approx(0.6)
    c, s = np.cos(0.3), np.sin(0.3)
    cd = {"CUNIT1": "deg", "CUNIT2": "deg", "CD1_1": 1.4e-4 * c, "CD1_2": -1.4e-4 * s, "CD2_1": 1.4e-4 * s,
          "CD2_2": 1.4e-4 * c}
    assert pixel_scale(cd) == pytest.approx(0.504)
    assert pixel_scale({"CDELT1": 1.0, "CDELT2": 1.0}) is None  # no units: not assumed
    assert pixel_scale({"CUNIT1": "km", "CUNIT2": "km", "CDELT1": 360.0, "CDELT2": 360.0}) is None
