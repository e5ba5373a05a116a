"""Preparation: an image read, checked, its kind found and each plane's normaliser built."""


import numpy as np
import pytest
from synthetic import assert_one_line_error, write_hmi_image

from enhance_lib import EnhanceUserWarning
from enhance_lib.scripts.enhance import main as enhance_main


def _run(capsys, *argv):
    code = enhance_main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_out_of_memory_reading_is_one_line(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    from enhance_lib.io import fits as fitsio

    def image_data(raw, header):
        raise MemoryError

    monkeypatch.setattr(fitsio, "image_data", image_data)
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", hmi_folder / "hmi_0.fits", "-o", dst, "-w", tiny_weights, "-q")
    assert_one_line_error(code, err, dst, "hmi_0.fits: out of memory reading the image of 36 x 30 pixels (0.00432 MB")


def test_pixel_scale_far_from_hmi_warns(tmp_path, tiny_weights):
    write_hmi_image(tmp_path / "coarse.fits", cdelt=1.0)
    with pytest.warns(EnhanceUserWarning, match=r'pixel scale 1"/px is far from HMI\'s 0.504"/px; the networks were '
                                                 "trained at HMI's scale"):
        assert enhance_main(["-i", str(tmp_path / "coarse.fits"), "-o", str(tmp_path / "o.fits"),
                             "-w", str(tiny_weights)]) == 0
    # at HMI's scale (and within 10 % of it) nothing is said: pytest turns warnings into errors
    write_hmi_image(tmp_path / "hmi.fits", cdelt=0.53)
    assert enhance_main(["-i", str(tmp_path / "hmi.fits"), "-o", str(tmp_path / "o2.fits"), "-w", str(tiny_weights),
                         "-q"]) == 0


def test_prepare_data_leaves_the_input_and_builds_one_normaliser_per_plane(hmi_image, hmi_header):
    """An array and its header: copied, not modified; the kind from the header; a cube's plane
    without data has no normaliser (and is said), the others the quiet-Sun level of their plane."""
    from enhance_lib.run.prepare import prepare_data

    cube = np.stack([hmi_image((24, 20), seed=0, value=3e4), hmi_image((24, 20), seed=1, value=5e4),
                     np.full((24, 20), np.nan, np.float32)])
    header = hmi_header(cdelt=(0.504, 0.504), content="CONTINUUM INTENSITY")
    before, header_before = cube.copy(), header.copy()
    with pytest.warns(EnhanceUserWarning, match="plane 3 of 3 .* has no finite pixels"):
        prepared = prepare_data(cube, header, source="cube.fits")
    np.testing.assert_array_equal(cube, before)
    assert header == header_before and prepared.header is not header
    assert prepared.kind == "intensity" and prepared.source == "cube.fits" and prepared.first_plane == 0
    assert prepared.planes.shape == (3, 24, 20) and prepared.normalizers[2] is None
    assert [n.constant for n in prepared.normalizers[:2]] == [pytest.approx(3e4, rel=0.01),
                                                               pytest.approx(5e4, rel=0.01)]
    magnetogram = prepare_data(300 * np.random.default_rng(2).standard_normal((16, 16)),
                               hmi_header(cdelt=(0.504, 0.504), content="MAGNETOGRAM", bunit="Gauss"))
    assert magnetogram.kind == "blos" and magnetogram.normalizers[0].constant == 1000.0
    assert magnetogram.data.dtype == np.float32 and magnetogram.planes.shape == (1, 16, 16)


def test_prepare_data_refuses_what_is_not_an_image():
    from enhance_lib.errors import EnhanceError
    from enhance_lib.run.prepare import out_of_memory, prepare_data

    with pytest.raises(EnhanceError, match="data has 1 dimensions"):
        prepare_data(np.ones(10))
    with pytest.raises(EnhanceError, match="all pixels are NaN"):
        prepare_data(np.full((8, 8), np.nan))
    assert out_of_memory("writing", (2, 100, 50), "c.fits").message.startswith(
        "out of memory writing the image of 50 x 100 pixels")
