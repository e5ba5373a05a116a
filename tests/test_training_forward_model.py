"""The forward model (psf.py) against analytic facts."""

import math

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.training import forward_model as psf

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


def test_convolve_delta_returns_kernel():
    kernel = psf.hmi_psf(pixel_scale=0.504)
    image = np.zeros((41, 37))
    image[20, 18] = 1.0
    out = psf.convolve(image, kernel)
    assert out.shape == image.shape
    np.testing.assert_allclose(out[12:29, 10:27], kernel, atol=1e-12)
    # A centred delta kernel is the identity.
    delta = np.zeros((5, 5))
    delta[2, 2] = 1
    rng = np.random.default_rng(1)
    img = rng.normal(size=(13, 9))
    np.testing.assert_allclose(psf.convolve(img, delta), img, atol=1e-12)


def test_convolve_no_wraparound_and_constant():
    kernel = psf.hmi_psf(pixel_scale=0.504)
    image = np.zeros((30, 30))
    image[:, :3] = 1.0  # bright left edge must not leak into the right edge
    out = psf.convolve(image, kernel)
    assert np.abs(out[:, -3:]).max() < 1e-10
    np.testing.assert_allclose(psf.convolve(np.full((20, 25), 3.0), kernel), 3.0)


def test_convolve_rejects_nan_and_keeps_input():
    image = np.ones((10, 10))
    copy = image.copy()
    psf.convolve(image, np.ones((3, 3)) / 9)
    np.testing.assert_array_equal(image, copy)
    image[3, 3] = np.nan
    with pytest.raises(EnhanceError, match="NaN"):
        psf.convolve(image, np.ones((3, 3)))


def test_resample_conserves_mean():
    rng = np.random.default_rng(0)
    image = rng.random((252, 126))
    # 0.063 -> 0.504 is exactly x8; 0.126 -> 0.504 x4 on the other axis size.
    out = psf.resample(image, from_scale=0.063, to_scale=0.504)
    assert out.shape == (31, 15)
    np.testing.assert_allclose(out.mean(), image[:248, :120].mean(), rtol=1e-12)
    # Non-integer ratio (x7.5): the output covers rows 0..134 and columns 0..67.5.
    image = rng.random((140, 70))
    out = psf.resample(image, from_scale=0.504 / 7.5, to_scale=0.504)
    assert out.shape == (18, 9)
    wx = np.ones(70)
    wx[67] = 0.5
    wx[68:] = 0
    expect = (image[:135] * wx).sum() / (135 * 67.5)
    np.testing.assert_allclose(out.mean(), expect, rtol=1e-12)


def test_resample_exact_area_weights():
    image = np.arange(12, dtype=float).reshape(1, 12)
    image = np.vstack([image, image, image])
    out = psf.resample(image, from_scale=1.0, to_scale=1.5)
    assert out.shape == (2, 8)
    # First output pixel: input 0 fully, half of input 1 -> (0 + 0.5*1)/1.5
    assert out[0, 0] == pytest.approx(0.5 / 1.5)
    assert out[0, 1] == pytest.approx((0.5 * 1 + 2) / 1.5)
    m = psf.resample_matrix(12, from_scale=1.0, to_scale=1.5)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


def test_resample_constant_and_factor():
    image = np.full((100, 90), 2.5)
    out = psf.resample(image, from_scale=0.0662, to_scale=0.504)
    assert out.shape == (13, 11)
    np.testing.assert_allclose(out, 2.5)
    rng = np.random.default_rng(2)
    img = rng.random((8, 6))
    binned = psf.resample(img, factor=2)
    np.testing.assert_allclose(binned, img.reshape(4, 2, 3, 2).mean(axis=(1, 3)))
    up = psf.resample(img, factor=0.5)
    np.testing.assert_allclose(up, np.kron(img, np.ones((2, 2))))
    with pytest.raises(EnhanceError):
        psf.resample(img, factor=2, from_scale=1, to_scale=2)
    with pytest.raises(EnhanceError, match="too small"):
        psf.resample(img, from_scale=0.06, to_scale=0.504)


def test_degrade_shapes_and_alignment():
    truth = np.ones((252, 252))
    hmi = psf.to_hmi(truth, pixel_scale=0.063)
    target = psf.to_target(truth, pixel_scale=0.063)
    assert hmi.shape == (31, 31) and target.shape == (63, 63)
    np.testing.assert_allclose(hmi, 1.0)
    np.testing.assert_allclose(target, 1.0)
    # A point source: the HMI image is wider than the target.
    truth = np.zeros((256, 256))
    truth[128, 128] = 1.0
    a = psf.degrade(truth, pixel_scale=0.063, out_scale=0.063, psf="hmi")
    b = psf.degrade(truth, pixel_scale=0.063, out_scale=0.063, psf="airy")
    assert a.max() < b.max()
    with pytest.raises(EnhanceError, match="unknown PSF"):
        psf.degrade(truth, pixel_scale=0.063, out_scale=0.5, psf="gauss")
