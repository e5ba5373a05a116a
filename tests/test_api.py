"""The Python API: arrays, HDUs and the reusable Enhancer give what the CLI writes."""

import warnings

import numpy as np
import pytest
from astropy.io import fits
from synthetic import hmi_header

import enhance_lib
from enhance_lib import EnhanceError, Enhancer, EnhanceUserWarning, enhance, enhance_hdu
from enhance_lib.scripts.enhance import main as enhance_main

pytestmark = pytest.mark.filterwarnings("ignore::enhance_lib.EnhanceUserWarning")


def _image(shape=(40, 36), seed=0):
    rng = np.random.default_rng(seed)
    return (1.0 + 0.04 * rng.standard_normal(shape)).astype(np.float32)


def _header(content="CONTINUUM INTENSITY", bunit=None):
    return hmi_header(cdelt=(0.504, 0.504), crpix=(18.5, 20.5), crval=(-200.0, 150.0), content=content, bunit=bunit)


@pytest.mark.slow
def test_api_equals_cli_output(tmp_path, tiny_weights):
    """The array, HDU and (data, header) faces give the CLI's data and header."""
    data, header = _image(), _header()
    path = tmp_path / "in.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    assert enhance_main(["-i", str(path), "-o", str(tmp_path / "out.fits"), "-w", str(tiny_weights), "-q"]) == 0
    with fits.open(tmp_path / "out.fits") as hdul:
        cli_data, cli_header = hdul[0].data.astype(np.float32), hdul[0].header

    out = enhance(data, header=header, weights=tiny_weights)
    np.testing.assert_array_equal(out, cli_data)

    hdu = enhance_hdu(fits.ImageHDU(data, header), weights=tiny_weights)
    assert isinstance(hdu, fits.ImageHDU)
    np.testing.assert_array_equal(hdu.data, cli_data)
    for key in ("CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "NAXIS1", "NAXIS2", "ENHNORM", "CONTENT"):
        assert hdu.header[key] == cli_header[key], key
    assert any("Enhanced x2" in str(card) for card in hdu.header["HISTORY"])

    primary = enhance_hdu(fits.PrimaryHDU(data, header), weights=tiny_weights)
    assert isinstance(primary, fits.PrimaryHDU)

    pair = enhance_hdu((data, header), weights=tiny_weights)
    assert isinstance(pair, tuple) and pair[1]["CRPIX1"] == cli_header["CRPIX1"]
    np.testing.assert_array_equal(pair[0], cli_data)


def test_enhancer_reused_and_inputs_untouched(tiny_weights):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    network = enhancer.network("intensity")
    data, header = _image(), _header()
    data_before, header_before = data.copy(), header.tostring()
    first = enhancer.enhance(data, header)
    second = enhancer.enhance(_image(seed=1))
    assert enhancer.network("intensity") is network  # the network was built once
    np.testing.assert_array_equal(data, data_before)
    assert header.tostring() == header_before
    assert first.shape == second.shape == (80, 72) and first.dtype == np.float32
    assert not np.array_equal(first, second)


def test_enhancer_cube_nan_and_units(tiny_weights):
    """A cube comes back plane by plane; NaN stays NaN on the 2x2 output pixels; units are
    the input's (a 3x brighter image is 3x brighter out, as the quiet-Sun level is divided out)."""
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    cube = np.stack([_image(seed=2), 3 * _image(seed=2)])
    cube[0, 5, 7] = np.nan
    out = enhancer.enhance(cube)
    assert out.shape == (2, 80, 72)
    assert np.isnan(out[0, 10:12, 14:16]).all() and np.isfinite(out[1]).all()
    assert np.isfinite(np.delete(out[0].ravel(), np.flatnonzero(np.isnan(out[0])))).all()
    single = enhancer.enhance(3 * _image(seed=2))
    np.testing.assert_allclose(out[1], single, rtol=1e-6)


def test_api_errors_are_the_clis(tmp_path, tiny_weights, capsys):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    with pytest.raises(EnhanceError, match="all pixels are NaN or infinite"):
        enhancer.enhance(np.full((40, 40), np.nan))
    with pytest.raises(EnhanceError, match="data has 1 dimensions, need a 2-D image or a 3-D cube"):
        enhancer.enhance(np.ones(40))
    with pytest.raises(EnhanceError, match="unknown data type 'velocity'; choose intensity or blos"):
        Enhancer(kind="velocity")
    with pytest.raises(EnhanceError, match="unknown normalisation 'median'"):
        enhance(_image(), normalization="median")
    with pytest.raises(EnhanceError, match="not an image HDU"):
        enhance_hdu(fits.BinTableHDU(), enhancer=enhancer)
    # the CLI's line for the same bad normalisation
    path = tmp_path / "in.fits"
    fits.PrimaryHDU(_image()).writeto(path)
    assert enhance_main(["-i", str(path), "-o", str(tmp_path / "o.fits"), "-n", "median", "-q"]) == 2
    assert "unknown normalisation 'median'" in capsys.readouterr().err


def test_enhancer_file_matches_cli(tmp_path, tiny_weights):
    path = tmp_path / "in.fits"
    fits.PrimaryHDU(_image(), _header()).writeto(path)
    result = Enhancer(weights=tiny_weights).enhance_file(path, tmp_path / "out.fits")
    np.testing.assert_array_equal(fits.getdata(tmp_path / "out.fits"), result.data)


def test_public_names():
    for name in ("enhance", "enhance_hdu", "enhance_map", "Enhancer", "EnhanceError", "EnhanceUserWarning"):
        assert name in enhance_lib.__all__ and hasattr(enhance_lib, name)


# --- the data type from the header ------------------------------------------------------


def _write(path, data, header):
    fits.PrimaryHDU(data, header).writeto(path)
    return str(path)


def test_cli_kind_from_header(tmp_path, capsys):
    """Without -t a magnetogram is enhanced as blos (its shipped network and kG normalisation)."""
    rng = np.random.default_rng(5)
    blos = _write(tmp_path / "m.fits", (200 * rng.standard_normal((40, 40))).astype(np.float32),
                  _header("MAGNETOGRAM", "Gauss"))
    enhance_main(["-i", blos, "-o", str(tmp_path / "out.fits")])
    header = fits.getheader(tmp_path / "out.fits")
    history = "\n".join(str(h) for h in header["HISTORY"])
    assert "network: blos" in history and "blos.weights.h5" in history
    assert header["ENHNORM"] == 1000.0
    assert "m.fits: data type blos, from the header (CONTENT = 'MAGNETOGRAM')" in capsys.readouterr().err


def test_cli_explicit_type_contradicting_header_warns(tmp_path, capsys):
    blos = _write(tmp_path / "m.fits", _image(), _header("MAGNETOGRAM"))
    with pytest.warns(EnhanceUserWarning, match="enhancing as intensity as asked, but the header says blos"):
        assert enhance_main(["-i", blos, "-t", "intensity", "-o", str(tmp_path / "o.fits")]) == 0
    assert "network: intensity" in "\n".join(str(h) for h in fits.getheader(tmp_path / "o.fits")["HISTORY"])


@pytest.mark.slow
def test_cli_warning_is_one_line(tmp_path):
    """Outside pytest's warning capture the CLI prints the warning as one line."""
    import subprocess
    import sys

    blos = _write(tmp_path / "m.fits", _image(), _header("MAGNETOGRAM"))
    code = ("import sys, warnings; warnings.resetwarnings(); from enhance_lib.scripts.enhance import main; "
            "sys.exit(main(sys.argv[1:]))")
    argv = [sys.executable, "-c", code, "-i", blos, "-t", "intensity", "-o", str(tmp_path / "o.fits")]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env())
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "warning:" in line or "Warning" in line]
    assert lines[0] == (f"enhance: warning: {blos}: enhancing as intensity as asked, but the header says blos "
                        "(CONTENT = 'MAGNETOGRAM')")
    # white noise is nothing like HMI data: the forward check says so, in one line too
    assert len(lines) == 2 and lines[1].startswith(f"enhance: warning: {blos}: forward check ")
    quiet = subprocess.run(argv + ["-q"], capture_output=True, text=True, env=_env())
    assert quiet.returncode == 0 and quiet.stderr == ""


def _env():
    import os

    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_cli_batch_groups_files_by_kind(tmp_path):
    """A folder of continuum images and magnetograms: each file with its own network."""
    rng = np.random.default_rng(6)
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder / "a_ic.fits", _image(), _header("CONTINUUM INTENSITY"))
    _write(folder / "b_m.fits", (100 * rng.standard_normal((40, 40))).astype(np.float32), _header("MAGNETOGRAM"))
    _write(folder / "c_ic.fits", _image(seed=3), _header(None, "DN/s"))
    assert enhance_main(["-i", str(folder), "-o", str(tmp_path / "out"), "-q"]) == 0
    kinds = {}
    for name in ("a_ic.fits", "b_m.fits", "c_ic.fits"):
        history = "\n".join(str(h) for h in fits.getheader(tmp_path / "out" / name)["HISTORY"])
        kinds[name] = "blos" if "network: blos" in history else "intensity"
    assert kinds == {"a_ic.fits": "intensity", "b_m.fits": "blos", "c_ic.fits": "intensity"}


def test_weights_decide_when_the_header_does_not(tmp_path, capsys):
    """A header that says nothing and blos weights: enhanced as blos; -t intensity with blos
    weights: an error naming the file and both kinds."""
    from enhance_lib.nets.weights import default_weights

    rng = np.random.default_rng(8)
    path = _write(tmp_path / "plain.fits", (80 * rng.standard_normal((40, 40))).astype(np.float32), _header(None))
    blos = str(default_weights("blos"))
    assert enhance_main(["-i", path, "-w", blos, "-o", str(tmp_path / "o.fits")]) == 0
    assert "data type blos, which the weights are for" in capsys.readouterr().err
    assert fits.getheader(tmp_path / "o.fits")["ENHNORM"] == 1000.0
    assert enhance_main(["-i", path, "-t", "intensity", "-w", blos, "-o", str(tmp_path / "o2.fits")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"enhance: error: {blos}: these weights are for blos data, not intensity (enhance the data as blos, "
        "or give other weights)")
    with pytest.raises(EnhanceError, match="these weights are for blos data, not intensity"):
        Enhancer(kind="intensity", weights=blos)
    assert Enhancer(weights=blos).enhance(np.zeros((40, 40))).shape == (80, 80)


def test_warning_family_filters_by_kind(tmp_path, tiny_weights):
    """Header oddities are EnhanceMetadataWarnings, which a caller can silence alone; all
    the package's warnings are EnhanceWarnings."""
    import enhance_lib as el

    assert issubclass(el.EnhanceMetadataWarning, el.EnhanceUserWarning)
    assert issubclass(el.EnhanceUserWarning, el.EnhanceWarning) and issubclass(el.EnhanceUserWarning, UserWarning)
    assert issubclass(el.EnhanceDeprecationWarning, el.EnhanceWarning)
    header = _header()
    header["CDELT1"] = header["CDELT2"] = 2.0  # far from HMI's scale: metadata
    with pytest.warns(el.EnhanceMetadataWarning, match="pixel scale 2\"/px"):
        enhance(_image(), header=header, weights=tiny_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", el.EnhanceMetadataWarning)
        enhance(_image(), header=header, weights=tiny_weights)  # silenced alone
        with pytest.raises(el.EnhanceUserWarning, match="enhancing as blos as asked"):
            enhance(_image(), kind="blos", header=header, weights=tiny_weights)  # the rest still shows


def test_enhance_map_without_sunpy_names_the_extra(monkeypatch):
    """Runs with or without sunpy installed: its import is made to fail."""
    import sys

    monkeypatch.setitem(sys.modules, "sunpy.map", None)  # import sunpy.map raises ImportError
    with pytest.raises(EnhanceError, match=r"enhance_map needs sunpy \(pip install 'enhance-keras3\[sunpy\]'\)"):
        enhance_lib.enhance_map(object())


def test_enhance_takes_a_fits_path(tmp_path, tiny_weights):
    path = tmp_path / "i.fits"
    fits.PrimaryHDU(_image(), header=_header()).writeto(path)
    from_path = enhance(str(path), weights=tiny_weights)
    np.testing.assert_array_equal(from_path, enhance(_image(), header=_header(), weights=tiny_weights))
    np.testing.assert_array_equal(Enhancer(kind="intensity", weights=tiny_weights).enhance(path), from_path)


def test_enhance_says_it_wants_numbers(tiny_weights):
    with pytest.raises(EnhanceError, match="data must be an array of numbers or a FITS file's path, not list"):
        enhance([["a", "b"], ["c", "d"]], kind="intensity", weights=tiny_weights)
    with pytest.raises(EnhanceError, match="file not found"):
        enhance("missing.fits", weights=tiny_weights)
