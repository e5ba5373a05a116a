"""Instrument states: the published default, the drawn ranges, the PSF, the correlated noise."""

import math

import numpy as np
import pytest
from scipy import ndimage

from enhance_lib.errors import EnhanceError
from enhance_lib.instrument import forward_model, psf, states


def test_the_default_state_is_the_published_one():
    s = states.DEFAULT_STATE
    assert s.psf_params == psf.PSF_VARIANTS["enhance"]
    assert (s.sigma("intensity"), s.sigma("blos"), s.correlation) == (1e-3, 10.0, 0.0)
    assert np.array_equal(s.psf(pixel_scale=0.063), psf.hmi_psf(pixel_scale=0.063))


def test_pinned_ranges():
    # what decides the drawn states (docs/guide/truth.md quotes them)
    assert states.PSF_RANGES == {"eps": (0.07, 0.13), "w": (1.71, 2.1), "W": (2.85, 3.57), "k": (2.7, 3.3)}
    assert states.NOISE_LEVELS["45s"] == {"intensity": 1e-3, "blos": 10.2}
    assert states.NOISE_LEVELS["720s"]["blos"] == 6.3
    assert states.NOISE_SPREAD == (0.8, 1.25) and states.CORRELATION_RANGE == (0.3, 1.0)
    assert states.WHITE_FRACTION == 0.5
    for name, (low, high) in states.PSF_RANGES.items():  # both published sets lie inside
        for variant in ("enhance", "wachter"):
            assert low <= psf.PSF_VARIANTS[variant][name] <= high


def test_draws_lie_in_the_ranges_and_are_seeded():
    drawn = [states.draw_state(np.random.default_rng(i)) for i in range(200)]
    assert states.draw_state(7) == states.draw_state(7) != states.draw_state(8)
    for s in drawn:
        for name, (low, high) in states.PSF_RANGES.items():
            assert low <= getattr(s, name) <= high
        levels = states.NOISE_LEVELS[s.series]
        factor = s.sigma_blos / levels["blos"]
        assert states.NOISE_SPREAD[0] <= factor <= states.NOISE_SPREAD[1]
        assert math.isclose(s.sigma_intensity / levels["intensity"], factor)
        assert s.correlation == 0 or states.CORRELATION_RANGE[0] <= s.correlation <= states.CORRELATION_RANGE[1]
    white = np.mean([s.correlation == 0 for s in drawn])
    assert 0.35 < white < 0.65
    assert {s.series for s in drawn} == {"45s", "720s"}


def test_psf_of_a_drawn_state_is_normalised_and_differs():
    s = states.draw_state(3)
    kernel = s.psf(pixel_scale=0.063)
    assert math.isclose(kernel.sum(), 1.0, rel_tol=1e-12)
    assert kernel.shape[0] % 2 == 1 and kernel.argmax() == kernel.size // 2
    assert not np.allclose(kernel, psf.hmi_psf(pixel_scale=0.063))


def test_to_hmi_takes_explicit_parameters():
    image = np.random.default_rng(0).random((96, 96))
    same = forward_model.to_hmi(image, pixel_scale=0.063, params=psf.PSF_VARIANTS["enhance"])
    assert np.array_equal(same, forward_model.to_hmi(image, pixel_scale=0.063))
    wachter = forward_model.to_hmi(image, pixel_scale=0.063, params=psf.PSF_VARIANTS["wachter"])
    assert np.array_equal(wachter, forward_model.to_hmi(image, pixel_scale=0.063, variant="wachter"))
    with pytest.raises(EnhanceError, match="`params`"):
        forward_model.to_hmi(image, pixel_scale=0.063, params={"sigma": 1.0})


@pytest.mark.parametrize("length", [0.0, 0.6, 1.5])
def test_correlated_noise_has_the_asked_sigma_and_correlation(length):
    noise = states.correlated_noise(np.random.default_rng(1), (512, 512), sigma=2.0, length=length)
    assert abs(noise.std() / 2.0 - 1) < 0.03
    lag1 = np.mean(noise[:, 1:] * noise[:, :-1]) / noise.var()
    if length == 0:
        assert abs(lag1) < 0.01
        return
    delta = np.zeros((41, 41))
    delta[20, 20] = 1.0
    w = ndimage.gaussian_filter(delta, length, mode="constant", truncate=6.0)
    expected = (w[:, 1:] * w[:, :-1]).sum() / (w**2).sum()  # the kernel's own autocorrelation
    assert abs(lag1 - expected) < 0.02
    if length >= 1:  # close to the continuous Gaussian's exp(-d^2 / 4 l^2)
        assert abs(expected - math.exp(-1 / (4 * length**2))) < 0.01


def test_bad_states():
    with pytest.raises(EnhanceError, match="`eps`"):
        states.InstrumentState(eps=1.5, w=2, W=3, k=3, sigma_intensity=1e-3, sigma_blos=10)
    with pytest.raises(EnhanceError, match="`correlation`"):
        states.InstrumentState(eps=0.1, w=2, W=3, k=3, sigma_intensity=1e-3, sigma_blos=10, correlation=-1)
    with pytest.raises(EnhanceError, match="`kind`"):
        states.DEFAULT_STATE.sigma("dopplergram")
    with pytest.raises(EnhanceError, match="`length`"):
        states.correlated_noise(np.random.default_rng(0), (8, 8), sigma=1.0, length=-1.0)
