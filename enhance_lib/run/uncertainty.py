"""Error bars on every output pixel: the input's noise through the network, and what the network
cannot know.

Three maps on the output's grid, in the output's units (``--uncertainty``):

``UNCNOISE``
    The input's noise propagated through the network: the standard deviation of the output
    over Monte-Carlo draws of the noise added to the input (:func:`noise_map`). The noise is
    measured from the data (:func:`enhance_lib.sun.noise.estimate_noise`; ``ENHNOISE``) or given.
``UNCMODEL``
    What the data cannot determine: the error the network makes on a noise-free input, which
    is dominated by the detail HMI's PSF erased. A second, small network learnt it on
    synthetic scenes whose truth is known (:mod:`enhance_lib.training.error_model`, a Gaussian
    likelihood; run by :class:`~enhance_lib.run.error_network.ErrorPredictor`): it predicts
    the local error variance from the input's structure.
``UNCERT``
    The total, ``sqrt((a UNCNOISE)^2 + (b UNCMODEL)^2)``, with the factors ``a`` and ``b``
    fitted on calibration scenes (``benchmarks/uncertainty.py --calibrate``) and stored with
    the error network's weights (:class:`Calibration`).

What none of them captures: an input unlike the data the networks learnt from (that is what the
forward check is for, :mod:`enhance_lib.run.forward_check`), and noise correlated between
pixels that the estimator cannot tell from the Sun's structure (a Gaussian of 1 px or more:
:func:`enhance_lib.sun.noise.estimate_noise`); the draws carry the correlation it measures
(``ENHNCORR``).
"""

import dataclasses
import logging

import numpy as np
from scipy import ndimage

from ..errors import EnhanceError
from ..sun.noise import correlated_noise, estimate_noise
from .tiling import enhance_array

log = logging.getLogger(__name__)

__all__ = [
    "CALIBRATION_ATTR",
    "DEFAULT_DRAWS",
    "NOISE_KERNEL",
    "SMOOTH",
    "Calibration",
    "PlaneUncertainty",
    "model_map",
    "noise_map",
    "plane_uncertainty",
]

#: Monte-Carlo draws of the noise (``--draws``).
DEFAULT_DRAWS = 8
#: Output pixels (a square box) over which the draws' variance is averaged: with 8 draws one
#: pixel's standard deviation is uncertain by ~27 %, the box's mean by a few percent.
SMOOTH = 5
#: The error network's root attribute with the calibration (JSON).
CALIBRATION_ATTR = "enhance_uncertainty_calibration"
#: The seed of the draws: the same input gives the same maps.
SEED = 20180514
#: The noise estimator's kernel (:data:`enhance_lib.sun.noise.KERNELS`): the 7x7 sixth difference
#: lets the least granulation through of those measured (``benchmarks/results/noise.md``).
NOISE_KERNEL = "sixth"


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The factors that make ``UNCERT`` a calibrated 1-sigma: ``sqrt((noise UNCNOISE)^2 +
    (model UNCMODEL)^2)``.

    Attributes
    ----------
    noise, model : float
    measured_on : str
        What they were fitted on (for HISTORY); ``'not calibrated'`` with factors of 1.
    """

    noise: float = 1.0
    model: float = 1.0
    measured_on: str = "not calibrated"

    @classmethod
    def from_attrs(cls, attrs, *, conserve_flux=False):
        """The calibration an error network's decoded attributes record for the faithful
        output or for ``conserve_flux`` (factors of 1 when none)."""
        stored = attrs.get(CALIBRATION_ATTR)
        mode = "conserve_flux" if conserve_flux else "faithful"
        if not isinstance(stored, dict) or mode not in stored:
            return cls()
        entry = stored[mode]
        return cls(float(entry["noise"]), float(entry["model"]), str(entry.get("measured_on", "")))

    def combine(self, noise, model):
        """``UNCERT`` from the two maps."""
        return np.hypot(self.noise * noise, self.model * model).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class PlaneUncertainty:
    """The uncertainty maps of one plane, and the noise they assumed.

    Attributes
    ----------
    noise, model, total : numpy.ndarray
        ``UNCNOISE``, ``UNCMODEL``, ``UNCERT`` (output grid, input units, NaN where the output
        is NaN).
    sigma : float
        ``ENHNOISE``: the input's noise (input units; for intensity at the quiet-Sun level).
    method : str
        How ``sigma`` was obtained.
    correlation : float
        ``ENHNCORR``: the width (input pixels) of the Gaussian that correlates the noise of the
        draws; 0.0: white.
    """

    noise: np.ndarray
    model: np.ndarray
    total: np.ndarray
    sigma: float
    method: str
    correlation: float = 0.0


def _smooth_variance(variance):
    """The variance averaged over a ``SMOOTH`` box, NaN left out (and kept NaN)."""
    finite = np.isfinite(variance)
    values = ndimage.uniform_filter(np.where(finite, variance, 0.0), SMOOTH, mode="mirror")
    weight = ndimage.uniform_filter(finite.astype(np.float64), SMOOTH, mode="mirror")
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = values / weight
    smoothed[~finite] = np.nan
    return smoothed


def noise_map(plane, predictor, normalizer, *, sigma, correlation=0.0, draws=DEFAULT_DRAWS, response=None,
              seed=SEED):
    """The input's noise propagated through the network, by Monte-Carlo.

    Each draw adds Gaussian noise of ``sigma`` (per pixel) to the input and enhances it through
    the same pipeline as the output (normaliser, limb, ``response``); the map is the standard
    deviation of the outputs over the draws, its variance averaged over :data:`SMOOTH` output
    pixels. With a ``correlation``, each draw's white deviates are convolved with the Gaussian
    of that width and rescaled to unit variance per pixel
    (:func:`~enhance_lib.sun.noise.correlated_noise`) before ``sigma`` scales them; with 0 the
    draws are the white deviates themselves.

    Parameters
    ----------
    plane : numpy.ndarray, shape (ny, nx)
        The input, in its units (NaN where missing). Not modified.
    predictor : enhance_lib.run.tiling.Predictor
    normalizer : enhance_lib.sun.normalization.Normalizer
        The plane's (kept for every draw: the noise is what changes).
    sigma : float or numpy.ndarray
        The noise of each input pixel (input units).
    correlation : float
        The width (input pixels) of the Gaussian that correlates the noise between pixels; 0:
        white.
    draws : int
        At least 2.
    response : enhance_lib.sun.photometry.FlatResponse, optional
        As for the output (``conserve_flux``).
    seed : int

    Returns
    -------
    numpy.ndarray, float32, shape (2ny, 2nx)

    References
    ----------
    Metropolis, N., & Ulam, S. 1949, J. Am. Stat. Assoc. 44, 335, "The Monte Carlo method".
    """
    if draws < 2:
        raise EnhanceError(f"`draws` must be >= 2 (got {draws})")
    plane = np.asarray(plane, dtype=np.float32)
    rng = np.random.default_rng(seed)
    mean = m2 = None
    for k in range(1, draws + 1):
        noisy = plane + (correlated_noise(rng.standard_normal(plane.shape), correlation) * sigma).astype(np.float32)
        out = enhance_array(noisy, predictor, normalizer, response=response).astype(np.float64)
        if mean is None:
            mean, m2 = out, np.zeros_like(out)
            continue
        delta = out - mean  # Welford: one output-sized sum in memory, whatever the draws
        mean += delta / k
        m2 += delta * (out - mean)
    return np.sqrt(_smooth_variance(m2 / (draws - 1))).astype(np.float32)


def model_map(plane, error_predictor, normalizer):
    """The structure-dependent error of the network (``UNCMODEL``) in the input's units.

    Parameters
    ----------
    plane : numpy.ndarray, shape (ny, nx)
    error_predictor : enhance_lib.run.error_network.ErrorPredictor
    normalizer : enhance_lib.sun.normalization.Normalizer

    Returns
    -------
    numpy.ndarray, float32, shape (2ny, 2nx)

    References
    ----------
    Nix, D. A., & Weigend, A. S. 1994, Proc. IEEE ICNN, 55, "Estimating the mean and variance
    of the target probability distribution".

    Kendall, A., & Gal, Y. 2017, NeurIPS 30, "What uncertainties do we need in Bayesian deep
    learning for computer vision?": the aleatoric part learnt with a Gaussian likelihood.
    """
    return np.abs(enhance_array(plane, error_predictor, normalizer))


def plane_uncertainty(plane, normalizer, *, predictor, error_predictor, calibration, kind, noise=None,
                      draws=DEFAULT_DRAWS, response=None):
    """The three maps of one plane (:class:`PlaneUncertainty`).

    Parameters
    ----------
    plane : numpy.ndarray
    normalizer : enhance_lib.sun.normalization.Normalizer
    predictor : enhance_lib.run.tiling.Predictor
        The enhancing network's.
    error_predictor : enhance_lib.run.error_network.ErrorPredictor
    calibration : Calibration
    kind : {'intensity', 'blos'}
    noise : float, optional
        The input's noise (input units, one value for every pixel, white); None: measured
        (:func:`~enhance_lib.sun.noise.estimate_noise`, photon noise for intensity, and the
        correlation for blos).
    draws : int
    response : optional
        As for the output.

    Returns
    -------
    PlaneUncertainty
    """
    if noise is None:
        estimate = estimate_noise(plane, kind=kind, kernel=NOISE_KERNEL)
        sigma, method, correlation = estimate.sigma, estimate.method, estimate.correlation
        per_pixel = estimate.at(np.where(np.isfinite(plane), plane, 0.0)) if estimate.level is not None else sigma
    else:
        sigma, method, per_pixel = float(noise), f"given: {float(noise):.4g} per pixel", float(noise)
        correlation = 0.0
    uncnoise = noise_map(plane, predictor, normalizer, sigma=per_pixel, correlation=correlation, draws=draws,
                         response=response)
    uncmodel = model_map(plane, error_predictor, normalizer)
    return PlaneUncertainty(uncnoise, uncmodel, calibration.combine(uncnoise, uncmodel), float(sigma), method,
                            correlation)
