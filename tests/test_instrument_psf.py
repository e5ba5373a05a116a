"""HMI's PSF and the Airy pattern (instrument/psf.py) against analytic facts."""

import math

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.instrument import psf

LAMBDA = 6173e-10


def _radial_cut(kernel):
    c = kernel.shape[0] // 2
    return kernel[c, c:]


@pytest.mark.parametrize("scale", [0.0662, 0.252, 0.504])
def test_kernels_unit_sum_odd_centred(scale):
    for kernel in (psf.hmi_psf(pixel_scale=scale), psf.airy_psf(pixel_scale=scale)):
        assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
        assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
        c = kernel.shape[0] // 2
        assert kernel[c, c] == kernel.max()
        np.testing.assert_allclose(kernel, kernel.T, atol=1e-15)
        np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-15)


def test_hmi_grid_extent():
    # +-4.4 arcsec at 0.504"/px: 8 pixels each side of the centre.
    assert psf.hmi_psf(pixel_scale=0.504).shape == (17, 17)
    assert psf.hmi_psf(pixel_scale=0.0662).shape == (133, 133)


def test_hmi_variants_parameters():
    assert psf.PSF_VARIANTS["enhance"] == {"eps": 0.1, "w": 2.0, "W": 3.4, "k": 3.0}
    assert psf.PSF_VARIANTS["wachter"] == {"eps": 0.1, "w": 1.8, "W": 3.0, "k": 3.0}
    enh = psf.hmi_psf(pixel_scale=0.1, oversample=1)
    wac = psf.hmi_psf(pixel_scale=0.1, variant="wachter", oversample=1)
    # Enhance's core is wider, so its peak is lower.
    assert enh.max() < wac.max()
    # Explicit parameters override the variant.
    same = psf.hmi_psf(pixel_scale=0.1, w=1.8, W=3.0, oversample=1)
    np.testing.assert_allclose(same, wac)
    with pytest.raises(EnhanceError, match="variant"):
        psf.hmi_psf(pixel_scale=0.1, variant="nope")


def test_hmi_profile_matches_formula():
    scale = 0.05
    kernel = psf.hmi_psf(pixel_scale=scale, oversample=1)
    cut = _radial_cut(kernel)
    theta = np.arange(cut.size) * scale * psf.ARCSEC
    r = math.pi * 0.14 * theta / LAMBDA
    expect = 0.9 * np.exp(-((r / 2.0) ** 2)) + 0.1 / (1 + (r / 3.4) ** 3)
    np.testing.assert_allclose(cut / cut[0], expect, rtol=1e-10)


def test_subpixel_sampling_converges():
    # At coarse scales the pixel average differs from the point sample; the default
    # oversampling agrees with a much finer one.
    fine = psf.hmi_psf(pixel_scale=0.504, oversample=51)
    auto = psf.hmi_psf(pixel_scale=0.504)
    point = psf.hmi_psf(pixel_scale=0.504, oversample=1)
    assert np.abs(auto - fine).max() < 2e-4
    assert np.abs(point - fine).max() > 5 * np.abs(auto - fine).max()


def test_airy_first_zero():
    scale = 0.005
    cut = _radial_cut(psf.airy_psf(pixel_scale=scale, extent=1.5, oversample=1))
    first_min = np.argmax(np.diff(cut) > 0) * scale
    expect = 1.22 * LAMBDA / 0.28 / psf.ARCSEC  # 0.555"
    assert first_min == pytest.approx(expect, abs=scale)


@pytest.mark.slow
def test_airy_mtf_cutoff():
    scale = 0.02
    kernel = psf.airy_psf(pixel_scale=scale, extent=30, oversample=1)
    m = psf.mtf(kernel)
    n = kernel.shape[0]
    f = np.fft.fftshift(np.fft.fftfreq(n, d=scale))
    fr = np.hypot(f[:, None], f[None, :])
    cutoff = 0.28 / LAMBDA * psf.ARCSEC  # D/lambda in cycles per arcsec (2.2)
    assert cutoff == pytest.approx(2.199, abs=1e-3)
    assert m[fr > 1.05 * cutoff].max() < 1e-4
    assert m[fr < 0.9 * cutoff].min() > 0.01
    # Scaled: half the aperture halves the cut-off.
    small = psf.mtf(psf.airy_psf(pixel_scale=scale, diameter=0.14, extent=30, oversample=1))
    assert small[fr > 1.05 * cutoff / 2].max() < 1e-3
