"""The forward model (instrument/forward_model.py) against analytic facts."""

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.instrument import forward_model, psf


def test_convolve_delta_returns_kernel():
    kernel = psf.hmi_psf(pixel_scale=0.504)
    image = np.zeros((41, 37))
    image[20, 18] = 1.0
    out = forward_model.convolve(image, kernel)
    assert out.shape == image.shape
    np.testing.assert_allclose(out[12:29, 10:27], kernel, atol=1e-12)
    # A centred delta kernel is the identity.
    delta = np.zeros((5, 5))
    delta[2, 2] = 1
    rng = np.random.default_rng(1)
    img = rng.normal(size=(13, 9))
    np.testing.assert_allclose(forward_model.convolve(img, delta), img, atol=1e-12)


def test_convolve_no_wraparound_and_constant():
    kernel = psf.hmi_psf(pixel_scale=0.504)
    image = np.zeros((30, 30))
    image[:, :3] = 1.0  # bright left edge must not leak into the right edge
    out = forward_model.convolve(image, kernel)
    assert np.abs(out[:, -3:]).max() < 1e-10
    np.testing.assert_allclose(forward_model.convolve(np.full((20, 25), 3.0), kernel), 3.0)


def test_convolve_rejects_nan_and_keeps_input():
    image = np.ones((10, 10))
    copy = image.copy()
    forward_model.convolve(image, np.ones((3, 3)) / 9)
    np.testing.assert_array_equal(image, copy)
    image[3, 3] = np.nan
    with pytest.raises(EnhanceError, match="NaN"):
        forward_model.convolve(image, np.ones((3, 3)))


def test_resample_conserves_mean():
    rng = np.random.default_rng(0)
    image = rng.random((252, 126))
    # 0.063 -> 0.504 is exactly x8; 0.126 -> 0.504 x4 on the other axis size.
    out = forward_model.resample(image, from_scale=0.063, to_scale=0.504)
    assert out.shape == (31, 15)
    np.testing.assert_allclose(out.mean(), image[:248, :120].mean(), rtol=1e-12)
    # Non-integer ratio (x7.5): the output covers rows 0..134 and columns 0..67.5.
    image = rng.random((140, 70))
    out = forward_model.resample(image, from_scale=0.504 / 7.5, to_scale=0.504)
    assert out.shape == (18, 9)
    wx = np.ones(70)
    wx[67] = 0.5
    wx[68:] = 0
    expect = (image[:135] * wx).sum() / (135 * 67.5)
    np.testing.assert_allclose(out.mean(), expect, rtol=1e-12)


def test_resample_exact_area_weights():
    image = np.arange(12, dtype=float).reshape(1, 12)
    image = np.vstack([image, image, image])
    out = forward_model.resample(image, from_scale=1.0, to_scale=1.5)
    assert out.shape == (2, 8)
    # First output pixel: input 0 fully, half of input 1 -> (0 + 0.5*1)/1.5
    assert out[0, 0] == pytest.approx(0.5 / 1.5)
    assert out[0, 1] == pytest.approx((0.5 * 1 + 2) / 1.5)
    m = forward_model.resample_matrix(12, from_scale=1.0, to_scale=1.5)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


def test_resample_constant_and_factor():
    image = np.full((100, 90), 2.5)
    out = forward_model.resample(image, from_scale=0.0662, to_scale=0.504)
    assert out.shape == (13, 11)
    np.testing.assert_allclose(out, 2.5)
    rng = np.random.default_rng(2)
    img = rng.random((8, 6))
    binned = forward_model.resample(img, factor=2)
    np.testing.assert_allclose(binned, img.reshape(4, 2, 3, 2).mean(axis=(1, 3)))
    up = forward_model.resample(img, factor=0.5)
    np.testing.assert_allclose(up, np.kron(img, np.ones((2, 2))))
    with pytest.raises(EnhanceError):
        forward_model.resample(img, factor=2, from_scale=1, to_scale=2)
    with pytest.raises(EnhanceError, match="too small"):
        forward_model.resample(img, from_scale=0.06, to_scale=0.504)


def test_degrade_shapes_and_alignment():
    truth = np.ones((252, 252))
    hmi = forward_model.to_hmi(truth, pixel_scale=0.063)
    target = forward_model.to_target(truth, pixel_scale=0.063)
    assert hmi.shape == (31, 31) and target.shape == (63, 63)
    np.testing.assert_allclose(hmi, 1.0)
    np.testing.assert_allclose(target, 1.0)
    # A point source: the HMI image is wider than the target.
    truth = np.zeros((256, 256))
    truth[128, 128] = 1.0
    a = forward_model.degrade(truth, pixel_scale=0.063, out_scale=0.063, psf="hmi")
    b = forward_model.degrade(truth, pixel_scale=0.063, out_scale=0.063, psf="airy")
    assert a.max() < b.max()
    with pytest.raises(EnhanceError, match="unknown PSF"):
        forward_model.degrade(truth, pixel_scale=0.063, out_scale=0.5, psf="gauss")
