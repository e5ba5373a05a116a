"""Tests of enhance_lib.io.fits on small synthetic files."""

import gzip
import os
import sys

import numpy as np
import pytest
from astropy.io import fits
from synthetic import wcs_header

from enhance_lib.errors import EnhanceError
from enhance_lib.io import fits as fitsio
from enhance_lib.io.fits import FitsImage, read_image, write_image
from enhance_lib.io.headers import upsample_header


def _image(ny=12, nx=10, seed=0):
    # Unequal sizes catch swapped axes.
    return np.random.default_rng(seed).normal(1.0, 0.05, (ny, nx)).astype(np.float32)


def test_read_primary(tmp_path):
    data = _image()
    data[3, 4] = np.nan
    path = tmp_path / "p.fits"
    header = fits.Header([("OBSERVER", "me", "who")])
    fits.PrimaryHDU(data, header=header).writeto(path)
    image = read_image(path)
    assert isinstance(image, FitsImage)
    assert image.hdu_index == 0
    assert image.path == str(path)
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    assert image.data.shape == (12, 10)
    np.testing.assert_array_equal(image.data, data)  # NaN included
    assert image.header["OBSERVER"] == "me"


def test_read_compressed_hdu1(tmp_path):
    data = _image(20, 16)
    data[0, 0] = np.nan
    header = fits.Header([("TELESCOP", "SDO/HMI"), ("CDELT1", 0.504)])
    path = tmp_path / "c.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header=header, compression_type="RICE_1")]).writeto(path)
    image = read_image(path)
    assert image.hdu_index == 1
    assert image.data.shape == (20, 16)
    assert np.isnan(image.data[0, 0])
    # Rice quantises floats (to ~ rms/16 by default).
    np.testing.assert_allclose(image.data[1:], data[1:], atol=0.02)
    assert image.header["TELESCOP"] == "SDO/HMI"
    assert not [k for k in image.header if k.startswith("Z") or k in ("TFIELDS", "TTYPE1")]
    assert image.header["BITPIX"] == -32 and image.header["NAXIS1"] == 16


def test_read_compressed_integer_exact(tmp_path):
    data = np.arange(15 * 9, dtype=np.int32).reshape(15, 9)
    path = tmp_path / "ci.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(path)
    image = read_image(path)
    assert image.data.dtype == np.float32
    np.testing.assert_array_equal(image.data, data)


def test_read_scaled_int16(tmp_path):
    raw = np.arange(-30, 90, dtype=np.int16).reshape(12, 10)
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BSCALE"] = 0.5
    hdu.header["BZERO"] = 100.0
    hdu.header["BLANK"] = -30
    path = tmp_path / "s.fits"
    hdu.writeto(path)
    # Write the integers unscaled: set the keywords after the data.
    with fits.open(path, mode="update", do_not_scale_image_data=True) as hdul:
        hdul[0].data = raw
    image = read_image(path)
    assert image.data.dtype == np.float32
    expected = raw * 0.5 + 100.0
    assert np.isnan(image.data[0, 0])
    np.testing.assert_allclose(image.data.ravel()[1:], expected.ravel()[1:])


def test_read_unscaled_integer_blank(tmp_path):
    raw = np.arange(120, dtype=np.int16).reshape(12, 10)
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BLANK"] = 7
    path = tmp_path / "b.fits"
    hdu.writeto(path)
    image = read_image(path)
    assert np.isnan(image.data.ravel()[7])
    assert np.isfinite(image.data).sum() == 119


def test_read_big_endian(tmp_path):
    data = _image().astype(">f4")
    path = tmp_path / "be.fits"
    fits.PrimaryHDU(data).writeto(path)
    image = read_image(path)
    assert image.data.dtype == np.dtype(np.float32) and image.data.dtype.isnative
    np.testing.assert_array_equal(image.data, data.astype(np.float32))


def test_read_cube(tmp_path):
    data = np.stack([_image(seed=s) for s in range(3)])
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(data).writeto(path)
    image = read_image(path)
    assert image.data.shape == (3, 12, 10)
    np.testing.assert_array_equal(image.data, data)


def test_read_skips_1d_and_table_hdus(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.arange(3.0))])
    path = tmp_path / "multi.fits"
    fits.HDUList([fits.PrimaryHDU(np.arange(5.0)), table, fits.ImageHDU(_image())]).writeto(path)
    image = read_image(path)
    assert image.hdu_index == 2
    assert image.header["XTENSION"] == "IMAGE"


def test_read_errors(tmp_path):
    with pytest.raises(EnhanceError, match="file not found") as err:
        read_image(tmp_path / "missing.fits")
    assert err.value.path == str(tmp_path / "missing.fits")

    text = tmp_path / "notes.fits"
    text.write_text("this is not a FITS file\n" * 10)
    with pytest.raises(EnhanceError, match="not a readable FITS file") as err:
        read_image(text)
    assert str(err.value).startswith(str(text) + ": ")

    empty = tmp_path / "empty.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(empty)
    with pytest.raises(EnhanceError, match="no image data in any HDU"):
        read_image(empty)

    one_d = tmp_path / "1d.fits"
    fits.PrimaryHDU(np.arange(10.0)).writeto(one_d)
    with pytest.raises(EnhanceError, match="data is 1-D, need a 2-D image or a 3-D cube"):
        read_image(one_d)

    four_d = tmp_path / "4d.fits"
    fits.PrimaryHDU(np.zeros((2, 2, 4, 5), np.float32)).writeto(four_d)
    with pytest.raises(EnhanceError, match="4 dimensions"):
        read_image(four_d)

    nan = tmp_path / "nan.fits"
    fits.PrimaryHDU(np.full((4, 5), np.nan, np.float32)).writeto(nan)
    with pytest.raises(EnhanceError, match="NaN"):
        read_image(nan)

    with pytest.raises(EnhanceError, match="folder"):
        read_image(tmp_path)


# --- files that lie: headers that promise more than the file or the memory holds -------


def _set_card(raw, key, value, *, after=b""):
    """Rewrite the integer card ``key`` (the first one after the bytes ``after``) in place."""
    start = raw.index(after) if after else 0
    at = raw.index(key.ljust(8).encode() + b"= ", start)
    raw[at:at + 80] = f"{key:<8}= {value:>20}".ljust(80).encode()


def _lying_file(path, *, nx=200000, ny=200000):
    """A small float32 image whose header then says ``nx`` x ``ny``: a corrupt download."""
    fits.PrimaryHDU(_image(64, 48)).writeto(path)
    raw = bytearray(path.read_bytes())
    _set_card(raw, "NAXIS1", nx)
    _set_card(raw, "NAXIS2", ny)
    path.write_bytes(bytes(raw))
    return path


def _compressed_file(path, data):
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, compression_type="RICE_1")]).writeto(path)
    return path


def test_header_promising_more_than_the_file_holds(tmp_path):
    path = _lying_file(tmp_path / "lie.fits")
    with pytest.raises(EnhanceError) as err:
        read_image(path)
    message = str(err.value)
    assert message.startswith(f"{path}: header promises 200000 x 200000 pixels of 32-bit data (160 GB)")
    assert f"holds only {(os.path.getsize(path) - 2880) / 1e3:.3g} kB after the header" in message
    assert message.endswith("truncated or corrupt") and "\n" not in message
    # the header alone (for the kind of data) is still cheap to read
    assert fitsio.read_header(path)["NAXIS1"] == 200000


def test_truncated_file_is_refused_not_padded(tmp_path):
    path = tmp_path / "cut.fits"
    fits.PrimaryHDU(_image(64, 48)).writeto(path)
    os.truncate(path, 2880 + 4 * 64 * 48 - 4)  # the last pixel is missing
    with pytest.raises(EnhanceError, match=r"48 x 64 pixels of 32-bit data \(12.3 kB\) but the file holds only "
                       r"12.3 kB after the header: truncated or corrupt"):
        read_image(path)


def test_missing_padding_alone_is_not_truncation(tmp_path):
    # The data are whole; only the padding to a multiple of 2880 bytes after them is missing.
    path = tmp_path / "unpadded.fits"
    data = _image(64, 48)
    fits.PrimaryHDU(data).writeto(path)
    os.truncate(path, 2880 + data.nbytes)
    np.testing.assert_array_equal(read_image(path).data, data)  # and no warning that it "may have been truncated"


def test_gzipped_header_promising_more_than_deflate_can_hold(tmp_path):
    plain = _lying_file(tmp_path / "lie.fits")
    path = tmp_path / "lie.fits.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(EnhanceError, match=r"200000 x 200000 pixels of 32-bit data \(160 GB\) but the gzipped file "
                       r"\(.* kB\) can hold at most .* MB after the header: truncated or corrupt"):
        read_image(path)
    # an honest gzipped file is read as the plain one
    good = tmp_path / "good.fits"
    fits.PrimaryHDU(_image()).writeto(good)
    (tmp_path / "good.fits.gz").write_bytes(gzip.compress(good.read_bytes()))
    np.testing.assert_array_equal(read_image(tmp_path / "good.fits.gz").data, _image())


def test_compressed_table_promising_more_than_the_file_holds(tmp_path):
    path = _compressed_file(tmp_path / "heap.fits", _image(64, 48))
    raw = bytearray(path.read_bytes())
    _set_card(raw, "PCOUNT", 10**9, after=b"XTENSION")  # a heap of 1 GB
    path.write_bytes(bytes(raw))
    with pytest.raises(EnhanceError, match=r"heap.fits: header promises a compressed image of 48 x 64 pixels in a "
                       r"table of 1 GB but the file holds only .* kB after the header: truncated or corrupt"):
        read_image(path)


def test_truncated_compressed_file(tmp_path):
    path = _compressed_file(tmp_path / "cut.fits", _image(64, 48))
    os.truncate(path, os.path.getsize(path) - 4000)
    with pytest.raises(EnhanceError, match=r"compressed image of 48 x 64 pixels in a table of .* truncated or corrupt"):
        read_image(path)


def test_compressed_image_larger_than_its_tiles(tmp_path):
    # The table is whole, but the image it claims to hold has far more tiles (rows) than it.
    path = _compressed_file(tmp_path / "tiles.fits", _image(64, 48))
    raw = bytearray(path.read_bytes())
    _set_card(raw, "ZNAXIS1", 200000, after=b"XTENSION")
    _set_card(raw, "ZNAXIS2", 200000, after=b"XTENSION")
    path.write_bytes(bytes(raw))
    with pytest.raises(EnhanceError, match=r"200000 x 200000 pixels in 833400000 tiles of 48 x 1 but its table has "
                       r"64 rows: truncated or corrupt"):
        read_image(path)


def test_image_too_large_for_the_memory(tmp_path, monkeypatch):
    path = tmp_path / "big.fits"
    fits.PrimaryHDU(_image(64, 48)).writeto(path)
    need = fitsio.MEMORY_FACTOR * 4 * 64 * 48
    monkeypatch.setattr(fitsio, "available_memory", lambda: need - 1)
    with pytest.raises(EnhanceError, match=rf"big.fits: the image \(48 x 64 pixels, 12.3 kB as float32\) needs about "
                       rf"{need / 1e3:.3g} kB of memory to enhance, but {(need - 1) / 1e3:.3g} kB is available"):
        read_image(path)
    monkeypatch.setattr(fitsio, "available_memory", lambda: need)
    assert read_image(path).data.shape == (64, 48)
    monkeypatch.setattr(fitsio, "available_memory", lambda: None)  # unknown: not checked
    assert read_image(path).data.shape == (64, 48)


# --- header ---------------------------------------------------------------------------


# --- writing --------------------------------------------------------------------------


def test_write_from_extension_header(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    header = fits.ImageHDU(data).header
    header["BSCALE"] = 2.0
    header["BZERO"] = 5.0
    before = header.tostring()
    out = tmp_path / "o.fits"
    write_image(out, data, header)
    assert header.tostring() == before
    with fits.open(out) as hdul:
        np.testing.assert_array_equal(hdul[0].data, data)
        assert "XTENSION" not in hdul[0].header


def test_write_replaces_existing(tmp_path):
    out = tmp_path / "o.fits"
    write_image(out, np.zeros((3, 4)), fits.Header())
    write_image(out, np.ones((5, 6)), fits.Header())
    assert fits.getdata(out).shape == (5, 6)
    assert os.listdir(tmp_path) == ["o.fits"]


def test_write_failure_preserves_destination(tmp_path, monkeypatch):
    out = tmp_path / "o.fits"
    write_image(out, np.zeros((3, 4)), fits.Header([("OLD", True)]))
    before = out.read_bytes()

    def broken_writeto(self, fileobj, **kwargs):
        fileobj.write(b"SIMPLE  = partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fits.PrimaryHDU, "writeto", broken_writeto)
    with pytest.raises(EnhanceError, match="No space left on device") as err:
        write_image(out, np.ones((5, 6)), fits.Header())
    assert err.value.path == str(out)
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == ["o.fits"]


def test_write_interrupted_preserves_destination(tmp_path, monkeypatch):
    out = tmp_path / "o.fits"
    write_image(out, np.zeros((3, 4)), fits.Header())
    before = out.read_bytes()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(fitsio.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(out, np.ones((5, 6)), fits.Header())
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == ["o.fits"]


def test_write_refuses_input(tmp_path, monkeypatch):
    src = tmp_path / "in.fits"
    fits.PrimaryHDU(_image()).writeto(src)
    before = src.read_bytes()
    with pytest.raises(EnhanceError, match="overwrite the input"):
        write_image(src, _image(), fits.Header(), input_path=src)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EnhanceError, match="overwrite the input"):
        write_image("./sub/../in.fits", _image(), fits.Header(), input_path=str(src))
    link = tmp_path / "link.fits"
    link.symlink_to(src)
    with pytest.raises(EnhanceError, match="overwrite the input"):
        write_image(link, _image(), fits.Header(), input_path=src)
    assert src.read_bytes() == before
    # A different destination is fine.
    write_image(tmp_path / "out.fits", _image(), fits.Header(), input_path=src)


def test_write_unwritable(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    target = blocker / "out.fits"
    with pytest.raises(EnhanceError, match="output folder") as err:
        write_image(target, _image(), fits.Header())
    assert err.value.path == str(target)
    with pytest.raises(EnhanceError, match="folder"):
        write_image(tmp_path, _image(), fits.Header())


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_write_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(EnhanceError, match="output folder") as err:
            write_image(locked / "out.fits", _image(), fits.Header())
        assert "locked" in str(err.value)
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_write_permission_denied_simulated(tmp_path, monkeypatch):
    # Also covers the case above when the tests run as root.
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("enhance_lib.io.atomic.tempfile.mkstemp", denied)
    with pytest.raises(EnhanceError, match="Permission denied") as err:
        write_image(tmp_path / "out.fits", _image(), fits.Header())
    assert err.value.path == str(tmp_path / "out.fits")


def test_write_roundtrip_creates_folder(tmp_path):
    data = _image(24, 20).astype(np.float64)
    header = upsample_header(wcs_header("crota"), shape=(24, 20))
    out = tmp_path / "new" / "deeper" / "out.fits"
    write_image(out, data, header)
    assert os.listdir(out.parent) == ["out.fits"]
    with fits.open(out) as hdul:
        assert len(hdul) == 1
        assert hdul[0].data.dtype == np.dtype(">f4")
        np.testing.assert_array_equal(hdul[0].data, data.astype(np.float32))
        assert hdul[0].header["CDELT1"] == 0.25
        assert hdul[0].header["NAXIS1"] == 20
    assert data.dtype == np.float64  # caller's array untouched
