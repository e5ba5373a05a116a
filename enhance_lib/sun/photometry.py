"""The networks' flat-field response, and flux conservation for photometry (``--conserve-flux``).

A network trained to deconvolve does not return a uniform input unchanged: the shipped
intensity network returns 0.982 for a uniform 1.0 (I/I_qs), and the published one is
1.5-1.9 % dark too on the real HMI crop; the blos networks add a field of a few gauss to a
field-free input. That is faithful to the method but wrong for photometry and flux
balance. Conserving flux takes two steps:

1. :func:`measure_response` measures the response to uniform inputs over the range of
   levels the network meets (a curve: it is not linear), and :class:`FlatResponse`
   inverts it pixel by pixel on the output (in network units), so that a uniform input
   comes back uniform and unchanged.
2. On a textured image the network's mean response differs from its response to a
   uniform input (by about -0.4 % on the real sunspot crop). :func:`match_large_scales`
   removes that: it corrects the output by the smooth ratio (intensity) or difference
   (blos) between the input and the 2x2-binned output, both smoothed with a Gaussian of
   :data:`FLUX_SCALE` input pixels. That scale is beyond the HMI PSF's reach (its
   tabulated wing ends at 4.4" ~ 9 pixels), so the flux the deconvolution moves back
   into a sunspot from its surroundings stays moved; what changes is the mean level on
   scales larger than that.
"""

import dataclasses
import logging

import numpy as np

from ..errors import EnhanceError

log = logging.getLogger(__name__)

__all__ = ["FLUX_SCALE", "FlatResponse", "match_large_scales", "measure_response", "response_levels"]

FLUX_SCALE = 8.0  # input pixels: Gaussian sigma of the large-scale flux match (FWHM 19 px ~ 9.5")


def response_levels(kind):
    """The uniform levels (network units) at which the response is measured.

    Intensity (I/I_qs, umbra to the brightest faculae and beyond): 0 to 2.5 in steps of
    0.01. Blos (kG): 0 and +-1e-4 to 5 kG spaced logarithmically, dense near 0 where a
    ReLU network's response bends most.
    """
    if kind == "intensity":
        return np.round(np.linspace(0.0, 2.5, 251), 6)
    positive = np.geomspace(1e-4, 5.0, 120)
    return np.concatenate([-positive[::-1], [0.0], positive])


def _monotone_through(outputs, anchor):
    """Indices of a strictly increasing run of ``outputs`` through index ``anchor``.

    Walks out from the anchor and keeps each point that continues the increase; points
    where the response bends back (a network's flat floor near 0) are left out.
    """
    keep = [anchor]
    for k in range(anchor + 1, outputs.size):
        if outputs[k] > outputs[keep[-1]]:
            keep.append(k)
    left = [anchor]
    for k in range(anchor - 1, -1, -1):
        if outputs[k] < outputs[left[-1]]:
            left.append(k)
    return np.array(left[:0:-1] + keep)


@dataclasses.dataclass(frozen=True)
class FlatResponse:
    """The output of a network for uniform inputs, and its inverse.

    Attributes
    ----------
    levels : numpy.ndarray
        Uniform input levels (network units), increasing.
    outputs : numpy.ndarray
        The network's (uniform) output for each.
    anchor : float
        The level the inversion is exact at and built out from: 1 (I/I_qs) for
        intensity, 0 for blos. Where the response is not increasing (the shipped
        networks return about the same value for intensities below 0.03 I/I_qs, and
        +1.4 to +2.4 G for every field between about -4 and +12 G) the inverse cannot tell those levels apart;
        the inversion follows the increasing run of the curve through the anchor
        (:attr:`kept`), so that it maps the output for 0 G back to 0 G.

    See Also
    --------
    measure_response : Measures it.
    match_large_scales : The second step of flux conservation.
    """

    levels: np.ndarray
    outputs: np.ndarray
    anchor: float = 0.0

    def __post_init__(self):
        anchor = int(np.argmin(np.abs(self.levels - self.anchor)))
        object.__setattr__(self, "kept", _monotone_through(np.asarray(self.outputs), anchor))
        if self.kept.size < 3:
            raise EnhanceError("the network's response to uniform inputs is not increasing; "
                               "it cannot be inverted to conserve flux")

    def __call__(self, level):
        """The network's output for a uniform input ``level`` (interpolated)."""
        return self._map(np.asarray(level, dtype=np.float64), self.levels, self.outputs)

    def invert(self, output):
        """The uniform input that gives ``output``: applied to every output pixel.

        Piecewise linear between the measured levels of :attr:`kept`; beyond them,
        linear with the end segments' slopes. Returns a new float32 array.
        """
        output = np.asarray(output)
        return self._map(output, self.outputs[self.kept], self.levels[self.kept]).astype(np.float32)

    @staticmethod
    def _map(x, xp, fp):
        y = np.interp(x, xp, fp)
        low, high = x < xp[0], x > xp[-1]
        if low.any():
            slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
            y = np.where(low, fp[0] + slope * (x - xp[0]), y)
        if high.any():
            slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
            y = np.where(high, fp[-1] + slope * (x - xp[-1]), y)
        return y

    def describe(self, kind, *, constant=1.0):
        """One line for logs and HISTORY: the gain at 1 I/I_qs, or the zero-field offset."""
        scales = f"; scales above {FLUX_SCALE:g} px matched to the input"
        if kind == "intensity":
            return (f"flux conserved: uniform-input response inverted (the network's gain at I/I_qs = 1: "
                    f"{float(self(1.0)):.4f}){scales}")
        return (f"flux conserved: uniform-input response inverted (the network's output for B = 0: "
                f"{float(self(0.0)) * constant:+.2f} G){scales}")


def measure_response(predictor, kind):
    """Measure a network's output for uniform inputs at :func:`response_levels`.

    All levels go through the network in one image: a strip of uniform patches, each
    wider than twice the network's receptive margin, so that the output at each patch's
    centre sees only its own level (the reflection padding at the strip's top and bottom
    keeps a uniform column uniform).

    Parameters
    ----------
    predictor : enhance_lib.run.tiling.Predictor
    kind : {'intensity', 'blos'}

    Returns
    -------
    FlatResponse

    See Also
    --------
    response_levels : The levels measured.
    FlatResponse.invert : Applied to every output pixel with ``conserve_flux``.
    enhance_lib.run.tiling.enhance_array : Where the inversion happens.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning": the method and the published networks, whose output for uniform inputs
    this measures (their darkening and zero-field offset are this package's measurements,
    not the paper's: ``benchmarks/photometry.py``).
    """
    levels = response_levels(kind)
    width = 2 * predictor.margin + 2
    height = max(predictor.min_size, 8)
    strip = np.repeat(levels.astype(np.float32), width)[np.newaxis, :].repeat(height, axis=0)
    out = predictor.run(strip)
    centre = 2 * (np.arange(levels.size) * width + predictor.margin)  # x2 output column of each patch centre
    outputs = out[height, centre].astype(np.float64)  # the middle row: away from the top and bottom
    response = FlatResponse(levels=levels, outputs=outputs, anchor=1.0 if kind == "intensity" else 0.0)
    log.debug("flat-field response (%s): %s", kind, response.describe(kind))
    return response


def _smooth(values, weights, sigma):
    """Gaussian-weighted mean of ``values`` where ``weights`` is 1 (normalised convolution)."""
    from scipy.ndimage import gaussian_filter

    numerator = gaussian_filter(np.where(weights, values, 0).astype(np.float32), sigma, mode="reflect")
    denominator = gaussian_filter(weights.astype(np.float32), sigma, mode="reflect")
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def match_large_scales(image, output, *, kind, sigma=FLUX_SCALE):
    """Correct an x2 output so that it keeps the input's flux on scales above ``sigma``.

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        The input, physical units; NaN where missing.
    output : numpy.ndarray, shape (2ny, 2nx)
        The network's output for it (same units); NaN where missing.
    kind : {'intensity', 'blos'}
        Intensity is corrected by a smooth ratio (it is positive and its errors are
        relative); a magnetogram by a smooth difference (its sign changes).
    sigma : float
        Gaussian sigma in input pixels.

    Returns
    -------
    numpy.ndarray, float32, shape (2ny, 2nx)
        A new array; NaN where ``output`` is NaN.

    See Also
    --------
    measure_response : The first step of flux conservation.
    FLUX_SCALE : The default ``sigma``.
    enhance_lib.instrument.psf.hmi_psf : Whose reach ``sigma`` exceeds.
    enhance_lib.training.evaluation.unsigned_flux : The figure of merit for magnetograms.

    References
    ----------
    Yeo, K. L., Feller, A., Solanki, S. K., et al. 2014, A&A 561, A22: deconvolving HMI data with its PSF moves
    signal smeared onto the quiet Sun back into magnetic features and raises the apparent
    unsigned flux above the noise (by about 1.2); a deconvolution need not keep flux on
    small scales, hence the match only on scales above ``sigma``.
    """
    image = np.asarray(image, dtype=np.float32)
    output = np.asarray(output, dtype=np.float32)
    ny, nx = image.shape
    binned = output.reshape(ny, 2, nx, 2).mean(axis=(1, 3))
    valid = np.isfinite(image) & np.isfinite(binned)
    if not valid.any():
        return output.copy()
    if kind == "intensity":
        with np.errstate(invalid="ignore", divide="ignore"):
            correction = _smooth(image, valid, sigma) / _smooth(binned, valid, sigma)
        correction = np.where(np.isfinite(correction), correction, 1.0).astype(np.float32)
        return output * np.repeat(np.repeat(correction, 2, axis=0), 2, axis=1)
    correction = _smooth(image - binned, valid, sigma)
    correction = np.where(np.isfinite(correction), correction, 0.0).astype(np.float32)
    return output + np.repeat(np.repeat(correction, 2, axis=0), 2, axis=1)
