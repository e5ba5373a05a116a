"""What the families of synthetic Suns share: the :class:`Sun` they return and their tools.

Random fields (:func:`random_field`, :func:`bandpass_field`), a soft step
(:func:`smoothstep`), kG flux elements rendered as saturating Gaussian blobs
(:func:`flux_blobs`), the granulation contrast as HMI would see it
(:func:`hmi_contrast_scale`) and the placement of features by the scene's size
(:func:`shrink`). Each family (:mod:`~enhance_lib.training.suns.cells`,
:mod:`~enhance_lib.training.suns.basins`, :mod:`~enhance_lib.training.suns.clustered`)
draws its own granulation, spots and network with them.
"""

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ...instrument import forward_model

__all__ = [
    "HMI_CONTRAST",
    "Sun",
    "bandpass_field",
    "flux_blobs",
    "grid",
    "hmi_contrast_scale",
    "random_field",
    "shrink",
    "smoothstep",
]

#: Range ``(low, high)`` of the quiet-Sun granulation's rms contrast through the HMI
#: PSF (Enhance's parameters) on 0.504" pixels, from which the new families draw theirs:
#: HMI observes 3.5-4 % at disk centre (Yeo et al. 2014, A&A 561, A22), Díaz Baso &
#: Asensio Ramos (2018) quote 3.7 %.
HMI_CONTRAST = (0.034, 0.040)


@dataclass(frozen=True)
class Sun:
    """One truth scene of a family.

    Attributes
    ----------
    intensity : numpy.ndarray, float32
        Continuum intensity (I/I_qs).
    blos : numpy.ndarray, float32
        Line-of-sight field (G).
    family : str
    seed : int
    params : dict
        The parameters the family drew for this seed (plain numbers, for a record).
    """

    intensity: np.ndarray
    blos: np.ndarray
    family: str
    seed: int
    params: dict = field(default_factory=dict)


def grid(shape, pixel_scale):
    """``(yy, xx)``: the centres of the pixels in arcsec from the lower-left corner."""
    ny, nx = shape
    return np.meshgrid((np.arange(ny) + 0.5) * pixel_scale, (np.arange(nx) + 0.5) * pixel_scale, indexing="ij")


def shrink(extent):
    """The factor by which features shrink in a scene of ``extent`` arcsec (1 from 80")."""
    return min(1.0, extent / 80.0)


def smoothstep(x):
    """0 below 0, 1 above 1, ``3x^2 - 2x^3`` between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def random_field(rng, shape, sigma_px):
    """White noise smoothed (periodically, by FFT) by a Gaussian of ``sigma_px``; mean 0, rms 1."""
    ny, nx = shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    transfer = np.exp(-2.0 * (math.pi * sigma_px) ** 2 * (fy**2 + fx**2))
    out = np.fft.irfft2(np.fft.rfft2(rng.standard_normal(shape)) * transfer, s=shape)
    out -= out.mean()
    return out / max(out.std(), 1e-12)


def bandpass_field(rng, shape, *, period_px, width=0.35, elongation=1.0, angle=0.0):
    """A random field whose power lies in a ring around ``1 / period_px``; mean 0, rms 1.

    The ring is log-normal in the wavenumber (``width``: its sigma in ln k). With
    ``elongation`` > 1 the wavenumber along ``angle`` (radians from the x axis) counts
    ``elongation`` times less, so that the structures are that many times longer along it.
    """
    ny, nx = shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    along = fx * math.cos(angle) + fy * math.sin(angle)
    across = -fx * math.sin(angle) + fy * math.cos(angle)
    k = np.hypot(along / float(elongation), across)
    k[0, 0] = 1e-12
    transfer = np.exp(-0.5 * (np.log(k * period_px) / width) ** 2)
    transfer[0, 0] = 0.0
    out = np.fft.irfft2(np.fft.rfft2(rng.standard_normal(shape)) * transfer, s=shape)
    return out / max(out.std(), 1e-12)


def flux_blobs(shape, rows, cols, fluxes, *, sigma_px, peak=1000.0, saturation=1600.0):
    """kG flux elements: signed deltas smoothed to Gaussians of peak ``peak`` G per unit flux.

    Overlapping elements saturate at ``saturation`` G (``tanh``), as the field of
    kG flux tubes does not add up beyond their equipartition strength.
    """
    elements = np.zeros(shape)
    np.add.at(elements, (np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)), fluxes)
    field_ = ndimage.gaussian_filter(elements, sigma_px, mode="constant") * (2 * math.pi * sigma_px**2)
    return saturation * np.tanh(field_ * peak / saturation)


def hmi_contrast_scale(granulation, *, pixel_scale, target, block=16):
    """The factor that gives ``granulation`` (mean 1) an rms contrast ``target`` through HMI.

    HMI's view is :func:`enhance_lib.instrument.forward_model.to_hmi` with Enhance's PSF;
    its contrast is the rms over the mean in ``block`` x ``block`` HMI pixels (8" by
    default, as granulation contrast is measured in quiet boxes), averaged over the blocks,
    so that the large-scale power a random field may hold does not count. Multiplying
    ``granulation - 1`` by the factor sets the contrast there to ``target`` (the forward
    model is linear).
    """
    n = min(768, *granulation.shape)  # 48": hundreds of granules, a fraction of the cost
    low = forward_model.to_hmi(granulation[:n, :n], pixel_scale=pixel_scale)
    m = low.shape[0] // block * block
    blocks = low[:m, :m].reshape(m // block, block, m // block, block)
    measured = float(np.mean(blocks.std(axis=(1, 3)) / blocks.mean(axis=(1, 3))))
    return float(target) / max(measured, 1e-12)
