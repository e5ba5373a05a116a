"""Photometry: the networks' response to uniform inputs, and --conserve-flux."""

import numpy as np
import pytest
from astropy.io import fits

import enhance_lib
from enhance_lib.errors import EnhanceError
from enhance_lib.scripts.enhance import main as enhance_main
from enhance_lib.sun.photometry import FlatResponse, match_large_scales, measure_response

pytestmark = pytest.mark.filterwarnings("ignore::enhance_lib.EnhanceUserWarning")


def _binned(a):
    ny, nx = a.shape
    return a.reshape(ny // 2, 2, nx // 2, 2).mean(axis=(1, 3))


def test_flat_response_inverts_the_increasing_run_through_the_anchor():
    levels = np.linspace(-1, 1, 21)
    outputs = 0.9 * levels + 0.05
    outputs[9:12] = 0.05  # a flat floor around 0, like a ReLU network's
    response = FlatResponse(levels=levels, outputs=outputs, anchor=0.0)
    assert 10 in response.kept and 9 not in response.kept and 11 not in response.kept
    assert np.all(np.diff(response.outputs[response.kept]) > 0)
    assert response.invert(np.array(0.05)) == pytest.approx(0.0, abs=1e-7)  # the anchor maps back exactly
    np.testing.assert_allclose(response.invert(0.9 * levels[15:] + 0.05), levels[15:], atol=1e-6)
    # beyond the measured range: linear with the end slopes
    assert response.invert(np.array(0.9 * 2 + 0.05)) == pytest.approx(2.0, rel=1e-6)
    assert response.invert(np.array(-0.9 * 2 + 0.05)) == pytest.approx(-2.0, rel=1e-6)
    with pytest.raises(EnhanceError, match="not increasing"):
        FlatResponse(levels=levels, outputs=-levels, anchor=0.0)


def test_identity_network_has_identity_response(upsampling_weights):
    """A network that is nearest x2 upsampling returns uniform inputs unchanged: nothing to correct."""
    network = enhance_lib.Enhancer(kind="blos", weights=upsampling_weights).network("blos")
    response = measure_response(network.predictor, "blos")
    np.testing.assert_allclose(response.outputs, response.levels, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def shipped():
    return {
        (kind, conserve, norm): enhance_lib.Enhancer(kind=kind, conserve_flux=conserve, normalization=norm)
        for kind, norm in (("intensity", "none"), ("intensity", None), ("blos", None))
        for conserve in (False, True)
    }


def test_measured_response_is_the_uniform_prediction(shipped):
    """The strip of uniform patches measures what one uniform image gives."""
    network = shipped[("intensity", False, "none")].network("intensity")
    response = measure_response(network.predictor, "intensity")
    for level in (0.3, 1.0, 1.7):
        single = network.predictor.run(np.full((40, 40), level, np.float32))
        assert response(level) == pytest.approx(float(single.mean()), rel=1e-6)
    assert response(1.0) == pytest.approx(0.9819, abs=1e-3)  # the shipped network's darkening


@pytest.mark.parametrize("level", [0.13, 0.5, 0.777, 1.0, 1.234, 2.2])
def test_conserve_flux_uniform_intensity_unchanged(shipped, level):
    image = np.full((48, 52), level)
    faithful = shipped[("intensity", False, "none")].enhance(image)
    out = shipped[("intensity", True, "none")].enhance(image)
    assert np.ptp(out) < 1e-5 * level  # uniform
    assert out.mean() == pytest.approx(level, rel=1e-3)
    if level in (0.13, 1.0):
        assert abs(faithful.mean() / level - 1) > 0.015  # and the network alone is not


@pytest.mark.parametrize("field, tolerance", [(0.0, 0.1), (100.0, 0.5), (-100.0, 0.5), (1500.0, 7.5), (4.0, None)])
def test_conserve_flux_uniform_blos(shipped, field, tolerance):
    out = shipped[("blos", True, None)].enhance(np.full((48, 52), field))
    assert np.ptp(out) < 1e-3 + 1e-6 * abs(field)  # uniform to float32 rounding
    if tolerance is None:  # inside the network's dead zone near 0: still back where it was
        tolerance = 0.1
    assert abs(out.mean() - field) < tolerance
    assert abs(shipped[("blos", False, None)].enhance(np.full((48, 52), 0.0)).mean()) > 1.0  # the offset removed


@pytest.mark.parametrize("kind, name", [("intensity", "hmi"), ("blos", "blos")])
def test_conserve_flux_on_the_real_crop(shipped, kind, name):
    """The mean of the real crop is kept, and so are the means of large regions, while the
    deconvolution itself is left alone (the output still differs from a bicubic image)."""
    from pathlib import Path

    low = fits.getdata(Path(__file__).parent.parent / "samples" / f"{name}.fits").astype(np.float64)
    out = shipped[(kind, True, None)].enhance(low).astype(np.float64)
    faithful = shipped[(kind, False, None)].enhance(low).astype(np.float64)
    b = _binned(out)
    if kind == "intensity":
        assert b.mean() == pytest.approx(low.mean(), rel=2e-4)
        assert abs(_binned(faithful).mean() / low.mean() - 1) > 0.01
        for y in range(0, 161, 20):
            for x in range(0, 101, 20):
                region = (slice(y, y + 40), slice(x, x + 40))
                assert b[region].mean() == pytest.approx(low[region].mean(), rel=5e-3)
    else:
        assert b.mean() == pytest.approx(low.mean(), abs=0.05)
        assert abs(_binned(faithful).mean() - low.mean()) > 2.0
    # the small scales are the network's: conserving flux changes them by little
    detail = out - np.repeat(np.repeat(_binned(out), 2, 0), 2, 1)
    detail_faithful = faithful - np.repeat(np.repeat(_binned(faithful), 2, 0), 2, 1)
    assert np.corrcoef(detail.ravel(), detail_faithful.ravel())[0, 1] > 0.995  # measured 0.998 (intensity)


def test_match_large_scales_keeps_nan_and_uniform():
    rng = np.random.default_rng(0)
    image = 1 + 0.05 * rng.standard_normal((64, 64))
    yy, xx = np.mgrid[:64, :64]
    image[np.hypot(yy - 32, xx - 32) > 30] = np.nan  # off-limb
    output = 1.02 * np.repeat(np.repeat(image, 2, 0), 2, 1)
    corrected = match_large_scales(image, output, kind="intensity")
    assert np.array_equal(np.isnan(corrected), np.isnan(output))
    np.testing.assert_allclose(corrected[np.isfinite(corrected)], (output / 1.02)[np.isfinite(output)], rtol=1e-5)
    flat = np.full((32, 32), 7.0)
    np.testing.assert_allclose(match_large_scales(flat, np.full((64, 64), 7.0), kind="blos"), 7.0)
    out = match_large_scales(flat, np.full((64, 64), 9.0), kind="blos")
    np.testing.assert_allclose(out, 7.0, rtol=1e-6)


def test_cli_conserve_flux_and_history(tmp_path):
    rng = np.random.default_rng(2)
    src = tmp_path / "ic.fits"
    fits.PrimaryHDU((5e4 * (1 + 0.04 * rng.standard_normal((48, 48)))).astype(np.float32)).writeto(src)
    for flag, expected in (([], "photometry: the network's output as it is (faithful)"),
                           (["--conserve-flux"], "photometry: flux conserved: uniform-input response inverted")):
        dst = tmp_path / f"out{len(flag)}.fits"
        assert enhance_main(["-i", str(src), "-o", str(dst), "-q"] + flag) == 0
        history = " ".join(str(h) for h in fits.getheader(dst)["HISTORY"])
        assert expected in history
        if flag:
            assert _binned(fits.getdata(dst).astype(float)).mean() == pytest.approx(
                fits.getdata(src).astype(float).mean(), rel=2e-4)
