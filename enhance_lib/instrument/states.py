"""Instrument states: the HMI PSF and noise with which a truth scene is observed.

An :class:`InstrumentState` says how one synthetic observation is made: the parameters
``(eps, w, W, k)`` of the Wachter et al. (2012) form of the HMI PSF
(:func:`enhance_lib.instrument.psf.hmi_psf`), the noise per HMI pixel of each kind, and
the correlation length of that noise (white noise convolved with a Gaussian of that
width, rescaled to the per-pixel level: :func:`correlated_noise`).

* :data:`DEFAULT_STATE` is the state with which Díaz Baso & Asensio Ramos (2018, A&A 614,
  A5) made their training inputs (the ``'enhance'`` PSF, 1e-3 I/I_qs, 10 G, white noise),
  and the one :func:`enhance_lib.training.scenes.truth_scene` uses unless told otherwise;
* :func:`draw_state` draws a state over what is known of HMI (:data:`PSF_RANGES`,
  :data:`NOISE_LEVELS`, :data:`NOISE_SPREAD`, :data:`CORRELATION_RANGE`), so that
  training, calibration and judging can each see many instrument states.

All functions return new objects.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..errors import EnhanceError
from .psf import PSF_VARIANTS, hmi_psf

__all__ = [
    "CORRELATION_RANGE",
    "DEFAULT_STATE",
    "NOISE_LEVELS",
    "NOISE_SPREAD",
    "PSF_RANGES",
    "WHITE_FRACTION",
    "InstrumentState",
    "correlated_noise",
    "draw_state",
]

#: Ranges ``(low, high)`` from which :func:`draw_state` draws the HMI PSF parameters
#: (uniformly). ``w`` and ``W`` span Wachter et al.'s (2012) values (1.8, 3.0) and
#: Enhance's (2.0, 3.4; Díaz Baso & Asensio Ramos 2018), widened by about 5 % on each
#: side, for the core and the wings are known only to that precision (the two published
#: sets differ by 10 % and 13 %); ``eps``, the fraction of the light in the wings (0.1 in
#: both sets), is perturbed by +-30 %; ``k``, the wings' power law (3 in both), by +-0.3.
#: The ranges are this project's reading of the published parameters, not published
#: confidence intervals.
PSF_RANGES = {"eps": (0.07, 0.13), "w": (1.71, 2.1), "W": (2.85, 3.57), "k": (2.7, 3.3)}

#: Noise per HMI pixel of the two series (intensity in I/I_qs, blos in G): the 45 s
#: line-of-sight magnetograms 10.2 G and the 720 s ones 6.3 G (Liu et al. 2012); the 45 s
#: continuum 1e-3 I/I_qs (the level with which Díaz Baso & Asensio Ramos 2018 trained, and
#: of the order that ``benchmarks/noise.py`` estimates on the real HMI crop,
#: 0.6-1.1e-3), the 720 s continuum scaled from it by the magnetograms' ratio 6.3/10.2
#: (an assumption: both series average filtergrams over a longer window).
NOISE_LEVELS = {"45s": {"intensity": 1e-3, "blos": 10.2},
                "720s": {"intensity": 1e-3 * 6.3 / 10.2, "blos": 6.3}}

#: Factor range ``(low, high)`` applied to a series' noise by :func:`draw_state`
#: (log-uniform): HMI's noise varies over the disk and with the orbital velocity (the JSOC
#: noise masks of the field strength vary by tens of per cent across the disk).
NOISE_SPREAD = (0.8, 1.25)

#: Range ``(low, high)`` of the noise correlation length (Gaussian sigma in HMI pixels)
#: of the correlated states of :func:`draw_state`: HMI's observables are interpolated
#: (distortion, alignment, filtergram co-registration; Couvidat et al. 2016), which
#: correlates the noise of neighbouring pixels over a fraction of a pixel to a pixel.
CORRELATION_RANGE = (0.3, 1.0)

#: Fraction of the states of :func:`draw_state` with white noise.
WHITE_FRACTION = 0.5


@dataclass(frozen=True)
class InstrumentState:
    """One way of observing a truth scene with HMI: the PSF and the noise.

    Attributes
    ----------
    eps, w, W, k : float
        The HMI PSF's parameters (:func:`enhance_lib.instrument.psf.hmi_psf`).
    sigma_intensity : float
        Noise per HMI pixel of an intensity image (I/I_qs).
    sigma_blos : float
        Noise per HMI pixel of a magnetogram (G).
    correlation : float
        Noise correlation length: the Gaussian sigma (HMI pixels) that white noise is
        convolved with before it is rescaled to the per-pixel level; 0 for white noise.
    series : str
        A label: ``'published'`` for :data:`DEFAULT_STATE`, else the HMI series whose
        noise the state drew (``'45s'`` or ``'720s'``).
    """

    eps: float
    w: float
    W: float
    k: float
    sigma_intensity: float
    sigma_blos: float
    correlation: float = 0.0
    series: str = "published"

    def __post_init__(self):
        if not 0.0 <= self.eps <= 1.0:
            msg = f"`eps` must lie in [0, 1], got {self.eps!r}"
            raise EnhanceError(msg)
        for name in ("w", "W", "k"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                msg = f"`{name}` must be a positive number, got {getattr(self, name)!r}"
                raise EnhanceError(msg)
        for name in ("sigma_intensity", "sigma_blos", "correlation"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                msg = f"`{name}` must be >= 0, got {getattr(self, name)!r}"
                raise EnhanceError(msg)

    @property
    def psf_params(self):
        """``{'eps': ..., 'w': ..., 'W': ..., 'k': ...}``, as :func:`hmi_psf` takes them."""
        return {"eps": self.eps, "w": self.w, "W": self.W, "k": self.k}

    def psf(self, *, pixel_scale, extent=4.4):
        """The state's HMI PSF tabulated at ``pixel_scale`` (arcsec/px; unit sum)."""
        return hmi_psf(pixel_scale=pixel_scale, extent=extent, **self.psf_params)

    def sigma(self, kind):
        """The noise per HMI pixel of ``kind`` ('intensity' or 'blos')."""
        if kind not in ("intensity", "blos"):
            msg = f"unknown `kind` {kind!r} (choose 'intensity' or 'blos')"
            raise EnhanceError(msg)
        return self.sigma_intensity if kind == "intensity" else self.sigma_blos

    def as_dict(self):
        """The fields, for a results file."""
        return asdict(self)


#: The published state: Enhance's PSF, its training noise (1e-3 I/I_qs; 1e-2 kG, i.e.
#: 10 G, close to the 45 s magnetograms' 10.2 G), white.
DEFAULT_STATE = InstrumentState(**PSF_VARIANTS["enhance"], sigma_intensity=1e-3, sigma_blos=10.0)


def draw_state(rng):
    """An :class:`InstrumentState` drawn over what is known of HMI.

    The PSF parameters uniformly in :data:`PSF_RANGES`; the series (45 s or 720 s) with
    equal odds, its :data:`NOISE_LEVELS` times one factor log-uniform in
    :data:`NOISE_SPREAD` (the same for both kinds); white noise with probability
    :data:`WHITE_FRACTION`, else a correlation length uniform in :data:`CORRELATION_RANGE`.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        The generator, or a seed of ``numpy.random.default_rng``.

    Returns
    -------
    InstrumentState

    References
    ----------
    Wachter, R., Schou, J., Rabello-Soares, M. C., et al. 2012, Sol. Phys. 275, 261, "Image
    Quality of the Helioseismic and Magnetic Imager (HMI) Onboard the Solar Dynamics
    Observatory (SDO)": the PSF's form and the ``'wachter'`` parameters.

    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images using
    deep learning", Sect. 3: the ``'enhance'`` parameters and the training noise.

    Liu, Y., Hoeksema, J. T., Scherrer, P. H., et al. 2012, Sol. Phys. 279, 295, "Comparison
    of Line-of-Sight Magnetograms Taken by the Solar Dynamics Observatory/Helioseismic and
    Magnetic Imager and Solar and Heliospheric Observatory/Michelson Doppler Imager": the
    noise of the 45 s (10.2 G) and 720 s (6.3 G) magnetograms.

    Couvidat, S., Schou, J., Hoeksema, J. T., et al. 2016, Sol. Phys. 291, 1887,
    "Observables Processing for the Helioseismic and Magnetic Imager Instrument on the
    Solar Dynamics Observatory": how the 45 s and 720 s observables are made from
    filtergrams (their interpolations and averages).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    params = {name: float(rng.uniform(*PSF_RANGES[name])) for name in ("eps", "w", "W", "k")}
    series = "45s" if rng.random() < 0.5 else "720s"
    factor = math.exp(rng.uniform(math.log(NOISE_SPREAD[0]), math.log(NOISE_SPREAD[1])))
    correlation = 0.0 if rng.random() < WHITE_FRACTION else float(rng.uniform(*CORRELATION_RANGE))
    levels = NOISE_LEVELS[series]
    return InstrumentState(**params, sigma_intensity=levels["intensity"] * factor,
                           sigma_blos=levels["blos"] * factor, correlation=correlation, series=series)


def correlated_noise(rng, shape, *, sigma, length):
    """Stationary Gaussian noise of ``sigma`` per pixel, correlated over ``length`` pixels.

    White normal deviates convolved (periodically, so that every pixel is alike) with a
    Gaussian of standard deviation ``length`` pixels, then divided by the square root of
    the sum of the squared kernel weights, so that each pixel's expected variance is
    ``sigma**2``. The autocorrelation at a lag of ``d`` pixels is the kernel's own, close to
    ``exp(-d**2 / (4 length**2))`` from a pixel on. ``length = 0`` gives white noise,
    ``sigma * rng.standard_normal(shape)``.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int
    sigma : float
        Standard deviation per pixel.
    length : float
        Correlation length (Gaussian sigma, pixels), >= 0.

    Returns
    -------
    numpy.ndarray of float64
    """
    sigma, length = float(sigma), float(length)
    if not (math.isfinite(length) and length >= 0):
        msg = f"`length` must be >= 0, got {length!r}"
        raise EnhanceError(msg)
    white = rng.standard_normal(shape)
    if length == 0:
        return sigma * white
    smooth = ndimage.gaussian_filter(white, length, mode="wrap", truncate=6.0)
    delta = np.zeros((2 * math.ceil(6 * length) + 1,) * 2)
    delta[delta.shape[0] // 2, delta.shape[1] // 2] = 1.0
    weights = ndimage.gaussian_filter(delta, length, mode="constant", truncate=6.0)
    return sigma * smooth / math.sqrt(float((weights**2).sum()))
