"""What the enhance command writes and says: output-path checks before the work, repeated
-i, warnings a run survives, the figure, cube headers and compressed outputs."""

import datetime
import os

import numpy as np
import pytest
from astropy.io import fits
from synthetic import write_hmi_image

from enhance_lib.scripts.enhance import main as enhance_main


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
    write_hmi_image(tmp_path / "in.fits")
    (tmp_path / "out" / "in.fits").mkdir(parents=True)
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "out"), "-w", str(tiny_weights),
                         "-q"]) == 2
    assert _err(capsys) == [f"enhance: error: {tmp_path / 'out' / 'in.fits'}: output is a folder, not a file "
                            "(give a file name)"]


def test_output_under_a_file_reported_before_prediction(tmp_path, tiny_weights, no_prediction, capsys):
    write_hmi_image(tmp_path / "in.fits")
    (tmp_path / "plain").write_text("a file")
    out = tmp_path / "plain" / "o.fits"
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(out), "-w", str(tiny_weights), "-q"]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"enhance: error: {out}: cannot create the output folder")
    assert (tmp_path / "plain").read_text() == "a file"


def test_unwritable_output_folder_reported_before_prediction(tmp_path, tiny_weights, no_prediction, capsys,
                                                              monkeypatch):
    write_hmi_image(tmp_path / "in.fits")
    (tmp_path / "locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("locked") else real_access(p, mode))
    out = tmp_path / "locked" / "o.fits"
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(out), "-w", str(tiny_weights), "-q"]) == 2
    assert _err(capsys) == [f"enhance: error: {out}: output folder is not writable"]


def test_repeated_input_flag_keeps_every_file(tmp_path, tiny_weights):
    write_hmi_image(tmp_path / "a.fits", seed=1)
    write_hmi_image(tmp_path / "b.fits", seed=2)
    code = enhance_main(["-i", str(tmp_path / "a.fits"), "-i", str(tmp_path / "b.fits"), "-o", str(tmp_path / "out"),
                         "-w", str(tiny_weights), "-q"])
    assert code == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["a.fits", "b.fits"]


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

    data = write_hmi_image(tmp_path / "in.fits", shape=(64, 64))
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


# --- the figure ---------------------------------------------------------------------
