"""Figures of merit used by the fidelity benchmark."""

import numpy as np
import pytest

from enhance_lib.training.evaluation import (
    bicubic_x2,
    contrast,
    correlation,
    radial_power_spectrum,
    rms_ratio,
    unsigned_flux,
)


def test_bicubic_reproduces_smooth_functions_on_the_x2_grid():
    y, x = np.mgrid[:40, :50]
    image = np.sin(x / 7.0) + np.cos(y / 9.0)
    up = bicubic_x2(image)
    yy, xx = np.mgrid[:80, :100]
    truth = np.sin(((xx - 0.5) / 2) / 7.0) + np.cos(((yy - 0.5) / 2) / 9.0)
    assert np.abs(up - truth)[10:-10, 10:-10].max() < 1e-3  # spline edge effects aside


def test_ratios_and_correlation():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(30, 30))
    assert rms_ratio(ref + 0.1, ref, ref + 0.4) == pytest.approx(0.25)
    assert correlation(ref, 2 * ref + 3) == pytest.approx(1.0)
    assert contrast(np.array([0.9, 1.1])) == pytest.approx(0.1)
    assert unsigned_flux(np.array([-2.0, 3.0]), pixel_area=0.25) == pytest.approx(1.25)


def test_power_spectrum_peaks_at_the_pattern_frequency():
    x = np.arange(128) * 0.5
    image = np.sin(2 * np.pi * x / 4.0)[np.newaxis, :].repeat(128, axis=0)  # period 4"
    k, p = radial_power_spectrum(image, pixel_scale=0.5)
    assert k[np.argmax(p)] == pytest.approx(0.25, abs=1 / 64)
