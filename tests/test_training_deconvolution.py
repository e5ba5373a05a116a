"""Richardson-Lucy: it restores, conserves flux, stays positive; the signed variant for magnetograms."""

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.instrument.forward_model import convolve
from enhance_lib.instrument.psf import hmi_psf
from enhance_lib.training import deconvolution as dc


def gaussian_psf(sigma=1.5, half=6):
    g = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    psf = np.outer(g, g)
    return psf / psf.sum()


def blob(shape, y, x, sigma):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-0.5 * ((yy - y) ** 2 + (xx - x) ** 2) / sigma**2)


def scene(shape=(48, 52), seed=0):
    """A positive image with compact blobs, a dark one and smooth structure (unequal sides: swapped axes show)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = 1.0 + 0.2 * np.sin(xx / 5.0) * np.cos(yy / 7.0) - 0.8 * blob(shape, 30, 14, 3.0)
    for y, x in rng.integers(6, min(shape) - 6, (5, 2)):
        image += 3.0 * blob(shape, y, x, 1.0)
    return image


def test_adjoint_is_exact():
    rng = np.random.default_rng(1)
    psf = rng.random((7, 9))
    blur = dc._Blur(psf / psf.sum(), (20, 23))
    u, r = rng.random((20, 23)), rng.random((20, 23))
    assert np.isclose(np.sum(blur(u) * r), np.sum(u * blur.adjoint(r)), rtol=1e-12)
    # the operator is the forward model's convolution
    assert np.allclose(blur(u), convolve(u, psf / psf.sum()))


def test_recovers_a_blurred_image_better_than_the_blurred_one():
    truth = scene()
    psf = gaussian_psf()
    blurred = convolve(truth, psf)
    restored = dc.richardson_lucy(blurred, psf, iterations=100)
    err_blurred = np.sqrt(np.mean((blurred - truth) ** 2))
    err_restored = np.sqrt(np.mean((restored - truth) ** 2))
    assert err_restored < 0.6 * err_blurred
    # a point comes back much sharper
    point = np.full((33, 33), 0.01)
    point[16, 16] = 1.0
    out = dc.richardson_lucy(convolve(point, psf), psf, iterations=200)
    assert out[16, 16] > 5 * convolve(point, psf)[16, 16]


def test_conserves_flux_and_stays_positive():
    truth = scene()
    psf = gaussian_psf(2.0)
    blurred = convolve(truth, psf) * 100.0
    for iterations in (0, 1, 10, 60):
        out = dc.richardson_lucy(blurred, psf, iterations=iterations)
        assert np.isclose(out.sum(), blurred.sum(), rtol=1e-10)
        assert out.min() >= 0
    # zeros stay allowed, and so does a start estimate of one's own
    zeros = blurred.copy()
    zeros[:5] = 0.0
    out = dc.richardson_lucy(zeros, psf, iterations=10, initial=np.full(zeros.shape, zeros.mean()))
    assert out.min() >= 0 and np.isclose(out.sum(), zeros.sum())


def test_signed_variant_recovers_a_bipolar_field():
    xx = np.mgrid[:48, :48][1]
    field = 1200.0 * blob((48, 48), 18, 18, 1.5) - 900.0 * blob((48, 48), 30, 30, 1.5) + 20.0 * np.sin(xx / 3.0)
    psf = gaussian_psf(1.5)
    blurred = convolve(field, psf)
    out = dc.richardson_lucy_signed(blurred, psf, iterations=50)
    assert np.sqrt(np.mean((out - field) ** 2)) < 0.7 * np.sqrt(np.mean((blurred - field) ** 2))
    assert out[18, 18] > blurred[18, 18] > 0 > blurred[30, 30] > out[30, 30]
    assert np.isclose(out.mean(), blurred.mean(), atol=1e-9)  # net flux kept
    assert np.allclose(dc.richardson_lucy_signed(-blurred, psf, iterations=50), -out)  # odd in B
    # with no offset (c = max|B|) it restores too
    tight = dc.richardson_lucy_signed(blurred, psf, iterations=50, offset=0.0)
    assert np.sqrt(np.mean((tight - field) ** 2)) < 0.7 * np.sqrt(np.mean((blurred - field) ** 2))


def test_hmi_deconvolve_uses_the_hmi_psf_and_the_kind():
    rng = np.random.default_rng(3)
    image = 1.0 + 0.04 * rng.standard_normal((40, 44))
    kernel = hmi_psf(pixel_scale=0.504)
    assert np.allclose(dc.hmi_deconvolve(image, kind="intensity", iterations=3),
                       dc.richardson_lucy(image, kernel, iterations=3))
    field = 100.0 * rng.standard_normal((40, 44))
    assert np.allclose(dc.hmi_deconvolve(field, kind="blos"),
                       dc.richardson_lucy_signed(field, kernel, iterations=dc.HMI_ITERATIONS["blos"]))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: dc.richardson_lucy(-np.ones((9, 9)), gaussian_psf(), iterations=1), "negative"),
        (lambda: dc.richardson_lucy(np.ones((9, 9)), gaussian_psf(), iterations=-1), "`iterations`"),
        (lambda: dc.richardson_lucy(np.ones((9, 9)), -gaussian_psf(), iterations=1), "`psf`"),
        (lambda: dc.richardson_lucy(np.full((9, 9), np.nan), gaussian_psf(), iterations=1), "NaN"),
        (lambda: dc.richardson_lucy(np.ones((3, 3)), gaussian_psf(half=6), iterations=1), "larger"),
        (lambda: dc.richardson_lucy_signed(np.ones((9, 9)), gaussian_psf(half=2), iterations=1, offset=-1), "`offset`"),
        (lambda: dc.hmi_deconvolve(np.ones((20, 20)), kind="doppler"), "doppler"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(EnhanceError, match=match):
        call()
