"""Preparation: an image read, checked, its kind found and each plane's normaliser built."""


import numpy as np
import pytest
from astropy.io import fits
from synthetic import hmi_header

from enhance_lib import EnhanceUserWarning
from enhance_lib.scripts.enhance import main as enhance_main


def _run(capsys, *argv):
    code = enhance_main([str(a) for a in argv])
    return code, capsys.readouterr().err


def _one_line_error(code, err, output, *words):
    """Exit code 2, a single error line with ``words`` in it, no traceback, nothing written."""
    assert code == 2, err
    assert err.strip().splitlines() == [err.strip()], err
    assert err.startswith("enhance: error: ") and "Traceback" not in err
    for word in words:
        assert word in err
    assert not output.exists()


def test_out_of_memory_reading_is_one_line(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    from enhance_lib.io import fits as fitsio

    def image_data(raw, header):
        raise MemoryError

    monkeypatch.setattr(fitsio, "image_data", image_data)
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", hmi_folder / "hmi_0.fits", "-o", dst, "-w", tiny_weights, "-q")
    _one_line_error(code, err, dst, "hmi_0.fits: out of memory reading the image of 36 x 30 pixels (0.00432 MB")


def _image(path, shape=(40, 48), *, cdelt=0.504, value=5e4, seed=0, extra=None):
    rng = np.random.default_rng(seed)
    data = (value * (1 + 0.04 * rng.standard_normal(shape))).astype(np.float32)
    header = hmi_header(cdelt=(cdelt, cdelt), bunit="DN/s", **(extra or {}))
    fits.PrimaryHDU(data, header).writeto(path)
    return data


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
