"""What the enhance command writes and says: output-path checks before the work, repeated
-i, warnings a run survives, the figure, cube headers and compressed outputs."""

import datetime
import os
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from enhance_lib import EnhanceUserWarning
from enhance_lib.scripts.enhance import main as enhance_main


def _image(path, shape=(40, 48), *, cdelt=0.504, value=5e4, seed=0, extra=None):
    rng = np.random.default_rng(seed)
    data = (value * (1 + 0.04 * rng.standard_normal(shape))).astype(np.float32)
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    header["CUNIT1"], header["CUNIT2"] = "arcsec", "arcsec"
    header["CDELT1"] = header["CDELT2"] = cdelt
    header["CRPIX1"], header["CRPIX2"] = 10.0, 12.0
    header["CRVAL1"], header["CRVAL2"] = 100.0, -50.0
    header["BUNIT"] = "DN/s"
    for key, value_ in (extra or {}).items():
        header[key] = value_
    fits.PrimaryHDU(data, header).writeto(path)
    return data


@pytest.fixture
def no_prediction(monkeypatch):
    """Fail the test if a prediction starts."""
    import enhance_lib.run.enhancer as pipeline

    def predict(*args, **kwargs):
        raise AssertionError("the prediction started")

    monkeypatch.setattr(pipeline.Enhancer, "predict", predict)


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_output_is_a_folder_reported_before_prediction(tmp_path, tiny_weights, no_prediction, capsys):
    """`-o DIR` writes DIR/<input name>: when that is itself a folder, it is reported before any work."""
    _image(tmp_path / "in.fits")
    (tmp_path / "out" / "in.fits").mkdir(parents=True)
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "out"), "-w", str(tiny_weights),
                         "-q"]) == 2
    assert _err(capsys) == [f"enhance: error: {tmp_path / 'out' / 'in.fits'}: output is a folder, not a file "
                            "(give a file name)"]


def test_output_under_a_file_reported_before_prediction(tmp_path, tiny_weights, no_prediction, capsys):
    _image(tmp_path / "in.fits")
    (tmp_path / "plain").write_text("a file")
    out = tmp_path / "plain" / "o.fits"
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(out), "-w", str(tiny_weights), "-q"]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"enhance: error: {out}: cannot create the output folder")
    assert (tmp_path / "plain").read_text() == "a file"


def test_unwritable_output_folder_reported_before_prediction(tmp_path, tiny_weights, no_prediction, capsys,
                                                              monkeypatch):
    _image(tmp_path / "in.fits")
    (tmp_path / "locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("locked") else real_access(p, mode))
    out = tmp_path / "locked" / "o.fits"
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(out), "-w", str(tiny_weights), "-q"]) == 2
    assert _err(capsys) == [f"enhance: error: {out}: output folder is not writable"]


def test_repeated_input_flag_keeps_every_file(tmp_path, tiny_weights):
    _image(tmp_path / "a.fits", seed=1)
    _image(tmp_path / "b.fits", seed=2)
    code = enhance_main(["-i", str(tmp_path / "a.fits"), "-i", str(tmp_path / "b.fits"), "-o", str(tmp_path / "out"),
                         "-w", str(tiny_weights), "-q"])
    assert code == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["a.fits", "b.fits"]


def test_pixel_scale_far_from_hmi_warns(tmp_path, tiny_weights):
    _image(tmp_path / "coarse.fits", cdelt=1.0)
    with pytest.warns(EnhanceUserWarning, match=r'pixel scale 1"/px is far from HMI\'s 0.504"/px; the networks were '
                                                 "trained at HMI's scale"):
        assert enhance_main(["-i", str(tmp_path / "coarse.fits"), "-o", str(tmp_path / "o.fits"),
                             "-w", str(tiny_weights)]) == 0
    # at HMI's scale (and within 10 % of it) nothing is said: pytest turns warnings into errors
    _image(tmp_path / "hmi.fits", cdelt=0.53)
    assert enhance_main(["-i", str(tmp_path / "hmi.fits"), "-o", str(tmp_path / "o2.fits"), "-w", str(tiny_weights),
                         "-q"]) == 0


def test_pixel_scale_from_cd_matrix_and_units():
    from enhance_lib.io.headers import pixel_scale

    assert pixel_scale({"CUNIT1": "arcsec", "CUNIT2": "arcsec", "CDELT1": -0.6, "CDELT2": 0.6}) == pytest.approx(0.6)
    c, s = np.cos(0.3), np.sin(0.3)
    cd = {"CUNIT1": "deg", "CUNIT2": "deg", "CD1_1": 1.4e-4 * c, "CD1_2": -1.4e-4 * s, "CD2_1": 1.4e-4 * s,
          "CD2_2": 1.4e-4 * c}
    assert pixel_scale(cd) == pytest.approx(0.504)
    assert pixel_scale({"CDELT1": 1.0, "CDELT2": 1.0}) is None  # no units: not assumed
    assert pixel_scale({"CUNIT1": "km", "CUNIT2": "km", "CDELT1": 360.0, "CDELT2": 360.0}) is None


@pytest.mark.parametrize(
    "flags, warned", [(set(), True), ({"avx512_bf16"}, True), ({"avx512_bf16", "amx_bf16"}, False)]
)
def test_bfloat16_on_a_cpu_without_amx_says_so(monkeypatch, tiny_weights, flags, warned):
    import enhance_lib.nets.backend as backend
    from enhance_lib.run.enhancer import Enhancer

    monkeypatch.setattr(backend, "cpu_flags", lambda: flags)
    if warned:
        with pytest.warns(EnhanceUserWarning, match="bfloat16 will not be faster on this CPU") as record:
            Enhancer(kind="intensity", weights=tiny_weights, precision="bfloat16", device="cpu")
        # the page the message points to has the measurement
        (page,) = re.findall(r"docs/guide/\w+\.md", str(record[0].message))
        text = (Path(__file__).resolve().parent.parent / page).read_text()
        assert "bfloat16" in text and "no AMX" in text and "0.61x" in text
    else:
        Enhancer(kind="intensity", weights=tiny_weights, precision="bfloat16", device="cpu")
    Enhancer(kind="intensity", weights=tiny_weights, precision="float32", device="cpu")  # float32: never


def test_cube_header_has_every_plane_and_a_fresh_date(tmp_path, tiny_weights):
    rng = np.random.default_rng(3)
    cube = np.stack([level * (1 + 0.04 * rng.standard_normal((40, 40))) for level in (1e4, 3e4, 5e4)])
    header = fits.Header({"DATE": "2010-01-01T00:00:00", "BUNIT": "DN/s"})
    fits.PrimaryHDU(cube.astype(np.float32), header).writeto(tmp_path / "cube.fits")
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)
    assert enhance_main(["-i", str(tmp_path / "cube.fits"), "-o", str(tmp_path / "o.fits"), "-w", str(tiny_weights),
                         "-q"]) == 0
    out = fits.getheader(tmp_path / "o.fits")
    constants = [out[f"ENHN{k:04d}"] for k in (1, 2, 3)]
    np.testing.assert_allclose(constants, [1e4, 3e4, 5e4], rtol=0.02)  # each plane's quiet-Sun level
    assert out["ENHNORM"] == constants[0]
    history = [str(h) for h in out["HISTORY"]]
    for k in (1, 2, 3):
        assert any(h.startswith(f"normalisation, plane {k}: quiet-sun") for h in history)
    written = datetime.datetime.fromisoformat(out["DATE"])
    assert before <= written <= datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize("compress", ["gzip", "rice"])
def test_compressed_output(tmp_path, tiny_weights, compress):
    from enhance_lib.io.fits import read_image

    data = _image(tmp_path / "in.fits", shape=(64, 64))
    with fits.open(tmp_path / "in.fits", mode="update") as hdul:
        hdul[0].data[:5, :6] = np.nan
    plain, packed = tmp_path / "plain.fits", tmp_path / f"{compress}.fits"
    for path, flags in ((plain, []), (packed, ["--compress", compress])):
        assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(path), "-w", str(tiny_weights), "-q"]
                            + flags) == 0
    reference, result = read_image(plain), read_image(packed)
    with fits.open(packed) as hdul:
        assert result.hdu_index == 1 and isinstance(hdul[1], fits.CompImageHDU)
    assert np.array_equal(np.isnan(result.data), np.isnan(reference.data))
    finite = np.isfinite(reference.data)
    if compress == "gzip":
        np.testing.assert_array_equal(result.data[finite], reference.data[finite])  # lossless
    else:
        error = result.data[finite] - reference.data[finite]
        assert 0 < np.std(error) < 0.05 * np.std(reference.data[finite])  # quantised to a fraction of the noise
        assert os.path.getsize(packed) < 0.5 * os.path.getsize(plain)
    for key in ("CDELT1", "CRPIX1", "CRVAL2", "ENHNORM", "BUNIT"):
        assert result.header[key] == reference.header[key]
    assert data.shape == (64, 64)


def test_log_and_plot_say_rows_by_columns(tmp_path, tiny_weights, capsys):
    _image(tmp_path / "in.fits", shape=(40, 48))
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "o.fits"), "-w", str(tiny_weights),
                         "--plot", str(tmp_path / "f.png")]) == 0
    assert "new size 80 x 96 (rows x columns)" in capsys.readouterr().err
    from enhance_lib.io.figures import shape_text

    assert shape_text((40, 48)) == "40 x 48 (rows x columns)"


# --- the figure ---------------------------------------------------------------------


def test_north_up_for_hmi_orientation():
    from enhance_lib.io.figures import north_up

    assert north_up(fits.Header({"CROTA2": 179.93}))
    assert north_up(fits.Header({"CROTA2": -180.1}))
    assert not north_up(fits.Header({"CROTA2": 0.2}))
    assert north_up(fits.Header({"PC1_1": -1.0, "PC1_2": 0.001, "PC2_1": -0.001, "PC2_2": -1.0}))
    assert not north_up(None) and not north_up(fits.Header())


def test_quiet_sun_contrast_ignores_limb_darkening():
    """The figure's contrast of a limb-darkened disk is that of its granulation."""
    from enhance_lib.io.figures import quiet_sun_mask, rms_contrast

    rng = np.random.default_rng(0)
    n, radius = 256, 120
    yy, xx = np.mgrid[:n, :n]
    mu = np.sqrt(np.clip(1 - ((yy - 128) ** 2 + (xx - 128) ** 2) / radius**2, 0, 1))
    profile = 1 - 0.6 * (1 - mu)
    local = 1 + 0.04 * rng.standard_normal((n, n))
    image = np.where(mu > 0, profile * local, np.nan)
    local = np.where(mu > 0, local, np.nan)
    whole = float(rms_contrast(image, kind="intensity").split()[1])
    quiet = float(rms_contrast(local, kind="intensity", mask=quiet_sun_mask(local)).split()[2])
    assert whole > 10  # limb darkening counted as contrast
    assert quiet == pytest.approx(4.0, abs=0.3)


def test_zoom_region_centres_on_the_spot_and_avoids_nan():
    from enhance_lib.io.figures import zoom_region

    image = np.ones((600, 700))
    image[:, :40] = np.nan
    image[300:310, 500:510] = 0.2
    image[5, 45] = 0.1  # darker, but its block would reach the NaN columns
    rows, cols = zoom_region(image, kind="intensity", size=128)
    block = image[rows, cols]
    assert block.shape == (128, 128) and np.isfinite(block).all() and block.min() <= 0.2
    assert rows.start <= 300 and rows.stop >= 310 and cols.start <= 500 and cols.stop >= 510
