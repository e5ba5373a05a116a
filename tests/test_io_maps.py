"""sunpy: enhanced maps keep their coordinates and metadata, and every FITS file the
project ships or writes opens as a map with a unit."""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from synthetic import hmi_header

from enhance_lib import EnhanceError, Enhancer, enhance_map
from enhance_lib.scripts.enhance import main as enhance_main

REPO = Path(__file__).resolve().parent.parent
SAMPLES = sorted((REPO / "samples").glob("*.fits"))


sunpy_map = pytest.importorskip("sunpy.map", reason="sunpy not installed (pip install 'enhance-keras3[sunpy]')")
pytestmark = pytest.mark.filterwarnings(
    # sunpy's notes on metadata it completes (e.g. the samples' unknown observer)
    "ignore::sunpy.util.exceptions.SunpyWarning",
    "ignore::enhance_lib.EnhanceUserWarning",
)


def _hmi_header(variant="crota", content="CONTINUUM INTENSITY", bunit="DN/s", shape=(40, 36)):
    h = hmi_header(cdelt=(0.504, 0.504) if variant in ("pc", "crota") else None, crpix=(13.3, 25.7),
                   crval=(-310.0, 215.0))
    theta = np.deg2rad(179.93)  # HMI flies upside down: CROTA2 ~ 180
    c, s = np.cos(theta), np.sin(theta)
    if variant == "pc":
        h["PC1_1"], h["PC1_2"], h["PC2_1"], h["PC2_2"] = c, -s, s, c
    elif variant == "crota":
        h["CROTA2"] = 179.93
    else:
        h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = 0.504 * c, -0.504 * s, 0.504 * s, 0.504 * c
    h["DATE-OBS"] = "2014-06-01T12:00:00.000"
    h["T_OBS"] = "2014.06.01_12:00:22_TAI"
    h["TELESCOP"], h["INSTRUME"] = "SDO/HMI", "HMI_FRONT2"
    h["WAVELNTH"] = 6173.0
    h["CONTENT"], h["BUNIT"] = content, bunit
    h["RSUN_OBS"], h["RSUN_REF"] = 945.8, 696000000.0
    h["DSUN_OBS"], h["HGLN_OBS"], h["HGLT_OBS"] = 1.5168e11, 0.01, -0.09
    return h


@pytest.mark.parametrize("variant", ["pc", "crota", "cd"])
def test_enhanced_map_keeps_sky_coordinates(variant, upsampling_weights, make_map):
    smap = make_map(_hmi_header(variant))
    out = enhance_map(smap, weights=upsampling_weights)  # a network that is nearest x2 upsampling
    assert out.data.shape == (80, 72)
    jj, ii = np.mgrid[0:40:3, 0:36:5]
    before = smap.pixel_to_world(ii * u.pix, jj * u.pix)
    after = out.pixel_to_world((2 * ii + 0.5) * u.pix, (2 * jj + 0.5) * u.pix)
    assert np.max(before.separation(after).to_value(u.arcsec)) < 1e-6
    # metadata the enhancement must not touch
    assert out.date == smap.date and out.reference_date == smap.reference_date
    assert out.observer_coordinate.separation_3d(smap.observer_coordinate).to_value(u.m) < 1e-3
    assert out.rsun_obs == smap.rsun_obs
    assert out.measurement == smap.measurement == "continuum"
    assert out.unit == smap.unit == u.DN / u.s
    assert u.allclose(out.scale.axis1, smap.scale.axis1 / 2) and u.allclose(out.scale.axis2, smap.scale.axis2 / 2)
    assert type(out) is type(smap)
    # in the map's units (DN/s), not I/I_qs: each input pixel's value on its 2x2 output block
    np.testing.assert_allclose(out.data[::2, ::2], smap.data, rtol=1e-5)


def test_enhance_map_kind_from_the_map(tiny_weights, monkeypatch, make_map):
    """HMI continuum -> intensity, HMI magnetogram -> blos; a map that says neither is an error."""
    from enhance_lib.run.enhancer import Enhancer

    built = []
    real_network = Enhancer.network
    monkeypatch.setattr(Enhancer, "network", lambda self, kind: built.append(kind) or real_network(self, kind))
    enhance_map(make_map(_hmi_header()), weights=tiny_weights)
    mag = make_map(_hmi_header(content="MAGNETOGRAM", bunit="Gauss"), scale=100)
    out = enhance_map(mag, weights=tiny_weights)
    assert list(dict.fromkeys(built)) == ["intensity", "blos"]
    assert out.measurement == "magnetogram" and out.unit == u.G
    assert out.meta["enhnorm"] == 1000.0  # G -> kG, the blos normalisation
    plain = _hmi_header(content="", bunit="")
    del plain["CONTENT"], plain["BUNIT"], plain["INSTRUME"], plain["TELESCOP"]
    with pytest.raises(EnhanceError, match=r"^GenericMap of 2014-06-01T12:00:00: cannot tell intensity from blos "
                       r".*give `kind` \(intensity or blos\)"):
        enhance_map(make_map(plain), weights=tiny_weights)
    assert enhance_map(make_map(plain), kind="intensity", weights=tiny_weights).data.shape == (80, 72)


def test_enhancer_map_reuses_network(tiny_weights, make_map):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    maps = [enhance_map(make_map(_hmi_header(), seed=k), enhancer=enhancer) for k in range(2)]
    assert list(enhancer._networks) == ["intensity"]
    assert not np.array_equal(maps[0].data, maps[1].data)


def test_cli_output_is_an_hmi_map(tmp_path, tiny_weights, make_map):
    smap = make_map(_hmi_header("crota"))
    path = tmp_path / "in.fits"
    fits.PrimaryHDU(smap.data, _hmi_header("crota")).writeto(path)
    assert enhance_main(["-i", str(path), "-o", str(tmp_path / "out.fits"), "-w", str(tiny_weights), "-q"]) == 0
    out = sunpy_map.Map(tmp_path / "out.fits")
    assert type(out).__name__ == "HMIMap"
    assert u.allclose(out.scale.axis1, 0.252 * u.arcsec / u.pix)
    assert u.allclose(out.reference_pixel.x, (2 * (13.3 - 1 + 0.5) - 0.5) * u.pix)  # 0-based: 2(x+0.5)-0.5
    assert u.allclose(out.reference_pixel.y, (2 * (25.7 - 1 + 0.5) - 0.5) * u.pix)
    assert out.observer_coordinate.separation_3d(smap.observer_coordinate).to_value(u.m) < 1e-3
    assert out.unit == u.DN / u.s and out.measurement == "continuum"


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_sample_and_its_output_opens_in_sunpy(path, tmp_path, tiny_weights):
    smap = sunpy_map.Map(path)
    assert type(smap).__name__ == "HMIMap"
    expected = u.G if smap.measurement == "magnetogram" else u.dimensionless_unscaled
    assert smap.unit == expected
    assert enhance_main(["-i", str(path), "-o", str(tmp_path / "out.fits"), "-w", str(tiny_weights), "-q"]) == 0
    out = sunpy_map.Map(tmp_path / "out.fits")
    assert type(out).__name__ == "HMIMap" and out.unit == expected and out.measurement == smap.measurement
    assert u.allclose(out.scale.axis1, smap.scale.axis1 / 2)


def test_samples_are_what_their_headers_say():
    """The real crops say what they are and hold no invented pointing."""
    for name, content, bunit, shape in (("hmi.fits", "CONTINUUM INTENSITY", "", (200, 140)),
                                        ("blos.fits", "MAGNETOGRAM", "G", (200, 140)),
                                        ("hmi_published.fits", "CONTINUUM INTENSITY", "", (400, 280)),
                                        ("blos_published.fits", "MAGNETOGRAM", "G", (400, 280))):
        with fits.open(REPO / "samples" / name) as hdul:
            header, data = hdul[0].header, hdul[0].data
        assert data.shape == shape and (header["CONTENT"], header["BUNIT"]) == (content, bunit)
        assert header["TELESCOP"] == "SDO/HMI" and header["INSTRUME"] == "HMI"
        assert not any(key in header for key in ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CTYPE1", "DATE-OBS"))
        assert "Real SDO/HMI" in str(header["COMMENT"]) or "published Enhance" in str(header["COMMENT"])


def test_map_messages_carry_no_stray_time(tiny_weights):
    """A map whose metadata has no date is named by its class, not by sunpy's current time."""
    bare = sunpy_map.Map(np.ones((30, 30), np.float32), {"cdelt1": 0.504, "cdelt2": 0.504, "cunit1": "arcsec",
                                                         "cunit2": "arcsec"})
    with pytest.raises(EnhanceError) as err:
        enhance_map(bare, weights=tiny_weights)
    assert str(err.value).startswith("GenericMap: cannot tell intensity from blos")


def test_a_dopplergram_map_is_refused_by_name(tiny_weights, make_map):
    doppler = make_map(_hmi_header(content="DOPPLERGRAM", bunit="cm/s"), scale=1000)
    with pytest.raises(EnhanceError, match="velocity maps are not a data type these networks enhance"):
        enhance_map(doppler, weights=tiny_weights)


@pytest.mark.parametrize("compress", ["none", "gzip"])
def test_an_output_with_extensions_opens_in_sunpy_as_the_guide_says(tmp_path, tiny_weights, tiny_error_weights,
                                                                   compress, monkeypatch):
    """docs/guide/enhancing.md, "Opening an output with sunpy": a list in the file's order, every
    map named as the data (sunpy names them from CONTENT and the date), EXTNAME in the meta;
    ``hdus=`` picks one (HDU 1 for the data of a compressed output); the guide's code runs."""
    import re

    src = tmp_path / "in.fits"
    fits.PrimaryHDU(np.random.default_rng(0).normal(1000.0, 40.0, (40, 36)).astype(np.float32),
                    _hmi_header()).writeto(src)
    assert enhance_main(["-i", str(src), "-o", str(tmp_path / "out.fits"), "-w", str(tiny_weights), "-q",
                         "--residual", "--uncertainty", "--error-weights", str(tiny_error_weights), "--draws", "2",
                         "--compress", compress]) == 0
    maps = sunpy_map.Map(str(tmp_path / "out.fits"))
    assert [m.meta.get("extname") for m in maps] == [None, "RESIDUAL", "UNCERT", "UNCNOISE", "UNCMODEL"]
    assert [m.name for m in maps] == ["HMI continuum 2014-06-01 12:00:00"] * 5
    with fits.open(tmp_path / "out.fits") as hdul:
        first = 1 if compress == "gzip" else 0
        np.testing.assert_array_equal(sunpy_map.Map(str(tmp_path / "out.fits"), hdus=first).data, hdul[first].data)
        expected = {"data": hdul[first].data, "uncert": hdul["UNCERT"].data}
        guide = (Path(__file__).parent.parent / "docs/guide/enhancing.md").read_text()
        code = re.search(r"\*\*Opening an output with sunpy\.\*\*.*?```python\n(.*?)```", guide, re.S).group(1)
        if compress == "gzip":
            code = code.replace('hdus=0', 'hdus=1')  # as the guide's comment says
        monkeypatch.chdir(tmp_path)
        found = {}
        exec(compile("\n".join(line[2:] for line in code.splitlines()), "enhancing.md", "exec"), found)
        for name, data in expected.items():
            np.testing.assert_array_equal(found[name].data, data)
