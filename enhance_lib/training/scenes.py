"""Truth scenes: HMI-like inputs with noise, their 28 cm targets and a region map.

A :class:`TruthScene` is one synthetic scene of a family of
:mod:`enhance_lib.training.suns` (by default ``'cells'``, the scenes of
:mod:`enhance_lib.training.synthetic_sun`: granulation, one sunspot, three pores and a
plage region) seen two ways, as in Díaz Baso & Asensio Ramos (2018, A&A 614, A5, Sect. 3):

* the **input**: the truth through the HMI PSF of an instrument state
  (:class:`enhance_lib.instrument.states.InstrumentState`; by default the published one),
  resampled to HMI's 0.504"/px (:func:`enhance_lib.instrument.forward_model.to_hmi`), plus
  Gaussian noise of ``sigma`` per pixel, white or correlated as the state says, with a
  FITS header that makes :class:`enhance_lib.Enhancer` treat it as an HMI continuum image
  (in I/I_qs) or magnetogram (in G) at disk centre;
* the **target**: the same truth through the Airy pattern of a 28 cm aperture,
  resampled to 0.252"/px (:func:`enhance_lib.instrument.forward_model.to_target`),
  cropped to exactly twice the input's shape;
* a **region map** on the target grid: quiet Sun, plage, penumbra and umbra
  (:data:`REGIONS`, :func:`region_map`).

:func:`truth_scene` builds one deterministically from its seed, family and state; the
truths and their HMI views (not the noise, which is cheap) are cached in memory, so that
the intensity and the magnetogram of a seed share one truth, and the states of one truth
one draw of it. Used by ``benchmarks/truth.py`` to judge enhanced images,
deconvolutions and interpolations against the truth they came from.
"""

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits
from scipy import ndimage

from ..errors import EnhanceError
from ..instrument import forward_model
from ..instrument.states import DEFAULT_STATE, InstrumentState, correlated_noise
from ..nets.config import HMI_SCALE
from ..sun.kinds import check_kind
from . import synthetic_sun as sun
from .suns import FAMILIES

__all__ = [
    "DEFAULT_SIGMA",
    "REGIONS",
    "SCENE_SCALE",
    "TruthScene",
    "full_disk",
    "hmi_like_header",
    "region_map",
    "truth_scene",
    "truth_scenes",
]

#: Pixel scale of the truth scenes (arcsec/px): HMI's pixel over 8, close to the
#: 0.0662"/px of the MURaM snapshots of Díaz Baso & Asensio Ramos (2018).
SCENE_SCALE = HMI_SCALE / 8

#: Noise per input pixel of the default state (:data:`enhance_lib.instrument.states.DEFAULT_STATE`),
#: in the input's units: 1e-3 I/I_qs for intensity, the level with which Díaz Baso &
#: Asensio Ramos (2018) trained the published networks (and
#: :data:`enhance_lib.training.simulate.DEFAULT_NOISE`); 10 G for magnetograms, the noise
#: of HMI's 45 s line-of-sight magnetograms (10.2 G; Liu et al. 2012, Sol. Phys. 279, 295),
#: which is also the published networks' training noise (1e-2 kG).
DEFAULT_SIGMA = {"intensity": DEFAULT_STATE.sigma_intensity, "blos": DEFAULT_STATE.sigma_blos}

#: Labels of :attr:`TruthScene.regions`.
REGIONS = {"quiet": 0, "plage": 1, "penumbra": 2, "umbra": 3}

#: Thresholds of :func:`region_map` on the truth seen at the target's resolution,
#: smoothed over ``SMOOTH`` arcsec (Gaussian sigma) so that granulation (rms ~10 % at
#: 28 cm) and single flux elements do not decide: umbra below ``UMBRA`` I/I_qs, penumbra
#: below ``PENUMBRA``, plage where the smoothed abs(B) exceeds ``PLAGE`` G.
REGION_THRESHOLDS = {"UMBRA": 0.5, "PENUMBRA": 0.9, "PLAGE": 100.0, "SMOOTH": 0.5}


@dataclass(frozen=True)
class TruthScene:
    """One synthetic scene as HMI would see it and as the 28 cm target shows it.

    The arrays are read-only (the scenes are cached and shared).

    Attributes
    ----------
    kind : {'intensity', 'blos'}
    seed : int
        The scene's seed (:func:`truth_scene`).
    data : numpy.ndarray, float32, shape (ny, nx)
        The HMI-like input at 0.504"/px with noise: I/I_qs for intensity, G for blos.
    clean : numpy.ndarray, float32, shape (ny, nx)
        The same without noise.
    target : numpy.ndarray, float32, shape (2ny, 2nx)
        The 28 cm target at 0.252"/px, in the input's units.
    sigma : float
        The noise added to ``data`` (standard deviation per pixel, input units).
    header : astropy.io.fits.Header
        An HMI-like header of ``data`` (helioprojective WCS at disk centre, 0.504"/px,
        CONTENT and BUNIT saying the kind; no RSUN_OBS, so no limb darkening is assumed).
    regions : numpy.ndarray, int8, shape (2ny, 2nx)
        :data:`REGIONS` labels on the target grid (:func:`region_map`).
    truth : numpy.ndarray, float32, shape (size, size)
        The high-resolution truth (I/I_qs or G) from which ``clean`` and ``target`` were made.
    pixel_scale : float
        The truth's pixel scale (arcsec/px).
    family : str
        The family of :mod:`enhance_lib.training.suns` the truth was drawn from.
    state : enhance_lib.instrument.states.InstrumentState
        The instrument state of ``clean`` and ``data`` (PSF and noise correlation; the
        noise level is ``sigma``).
    """

    kind: str
    seed: int
    data: np.ndarray
    clean: np.ndarray
    target: np.ndarray
    sigma: float
    header: fits.Header
    regions: np.ndarray
    truth: np.ndarray
    pixel_scale: float = SCENE_SCALE
    family: str = "cells"
    state: InstrumentState = field(default=DEFAULT_STATE)

    @property
    def input_scale(self):
        """The input's pixel scale (arcsec/px)."""
        return HMI_SCALE

    @property
    def target_scale(self):
        """The target's pixel scale (arcsec/px)."""
        return HMI_SCALE / 2

    def mask(self, region):
        """Boolean map (target grid) of one region of :data:`REGIONS`, by name."""
        if region not in REGIONS:
            msg = f"unknown `region` {region!r} (choose from {', '.join(REGIONS)})"
            raise EnhanceError(msg)
        return self.regions == REGIONS[region]


def region_map(intensity, abs_field, *, pixel_scale, thresholds=None):
    """Quiet Sun, plage, penumbra and umbra labels from intensity and field maps.

    Both maps are smoothed by a Gaussian of ``SMOOTH`` arcsec first; then, in order of
    precedence, umbra is ``I < UMBRA``, penumbra ``I < PENUMBRA``, plage ``abs(B) > PLAGE``
    and the rest quiet Sun (:data:`REGION_THRESHOLDS`). Pores, which these scenes hold
    too, fall under the same thresholds (their dark cores in umbra or penumbra, their
    surroundings in plage): the labels follow the intensity and the field, not the
    feature that made them.

    Parameters
    ----------
    intensity : array_like, 2-D
        Continuum intensity (I/I_qs), e.g. the truth at the target's resolution.
    abs_field : array_like, 2-D
        Unsigned line-of-sight field (G) on the same grid.
    pixel_scale : float
        arcsec/px of both.
    thresholds : dict, optional
        Overrides of :data:`REGION_THRESHOLDS`.

    Returns
    -------
    numpy.ndarray, int8
        :data:`REGIONS` labels.

    References
    ----------
    Solanki, S. K. 2003, A&ARv 11, 153, "Sunspots: an overview of observational evidence":
    umbrae darker than about half the quiet-Sun continuum at visible wavelengths,
    penumbrae at about 0.75-0.85 of it.
    """
    t = dict(REGION_THRESHOLDS, **(thresholds or {}))
    smooth = t["SMOOTH"] / float(pixel_scale)
    i_s = ndimage.gaussian_filter(np.asarray(intensity, dtype=np.float64), smooth, mode="reflect")
    b_s = ndimage.gaussian_filter(np.abs(np.asarray(abs_field, dtype=np.float64)), smooth, mode="reflect")
    labels = np.full(i_s.shape, REGIONS["quiet"], dtype=np.int8)
    labels[b_s > t["PLAGE"]] = REGIONS["plage"]
    labels[i_s < t["PENUMBRA"]] = REGIONS["penumbra"]
    labels[i_s < t["UMBRA"]] = REGIONS["umbra"]
    return labels


@functools.lru_cache(maxsize=8)
def _truth(family, seed, size):
    """The truth of both kinds, their 28 cm targets and the region map of one scene (cached)."""
    scene = FAMILIES[family](int(seed), size=size, pixel_scale=SCENE_SCALE)
    out = {}
    for kind, truth in (("intensity", scene.intensity), ("blos", scene.blos)):
        high = forward_model.to_target(truth, pixel_scale=SCENE_SCALE)[: size // 4, : size // 4]
        out[kind] = (_frozen(high), _frozen(truth))
    abs_b = forward_model.to_target(np.abs(scene.blos), pixel_scale=SCENE_SCALE)
    intensity_target = out["intensity"][0]
    regions = region_map(intensity_target, abs_b[: intensity_target.shape[0], : intensity_target.shape[1]],
                         pixel_scale=HMI_SCALE / 2)
    return out, _frozen(regions)


@functools.lru_cache(maxsize=16)
def _hmi(family, seed, size, psf_params):
    """The truth of one scene of both kinds through one HMI PSF (``psf_params``: sorted items), cached."""
    pairs, _ = _truth(family, seed, size)
    return {kind: _frozen(forward_model.to_hmi(truth, pixel_scale=SCENE_SCALE, params=dict(psf_params)))
            for kind, (_, truth) in pairs.items()}


def _frozen(array):
    array = np.array(array, dtype=np.float32 if array.dtype.kind == "f" else None)
    array.flags.writeable = False
    return array


def hmi_like_header(kind, shape):
    """A header that makes the Enhancer treat an array as HMI data of ``kind`` at disk centre.

    Helioprojective WCS with 0.504" square pixels centred on disk centre, ``TELESCOP``,
    ``WAVELNTH``, ``CONTENT`` (``'CONTINUUM INTENSITY'`` or ``'MAGNETOGRAM'``, as HMI writes
    them) and, for magnetograms, ``BUNIT = 'Gauss'``. Without RSUN_OBS the disk is not
    located, so the intensity is normalised by one quiet-Sun level (as for a cut-out).
    """
    ny, nx = shape
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    header["CUNIT1"] = header["CUNIT2"] = "arcsec"
    header["CDELT1"] = header["CDELT2"] = HMI_SCALE
    header["CRPIX1"], header["CRPIX2"] = (nx + 1) / 2, (ny + 1) / 2
    header["CRVAL1"], header["CRVAL2"] = 0.0, 0.0
    header["CROTA2"] = 0.0
    header["TELESCOP"] = "SDO/HMI"
    header["WAVELNTH"] = 6173.0
    header["CONTENT"] = "CONTINUUM INTENSITY" if kind == "intensity" else "MAGNETOGRAM"
    if kind == "blos":
        header["BUNIT"] = "Gauss"
    header["COMMENT"] = "synthetic: enhance_lib.training.scenes (truth scene through the HMI PSF)"
    return header


def _check_size(size):
    try:
        size = int(size)
    except (TypeError, ValueError):
        msg = f"`size` must be an integer, got {size!r}"
        raise EnhanceError(msg) from None
    if size < 512 or size % 8:
        msg = f"`size` must be a multiple of 8 and at least 512, got {size}"
        raise EnhanceError(msg)
    return size


def truth_scene(kind, *, seed, family="cells", state=None, size=1280, sigma=None):
    """One :class:`TruthScene`, the same for the same arguments.

    The scene (``size`` x ``size`` pixels at :data:`SCENE_SCALE`, 80.6" for the default
    1280, i.e. 160 HMI pixels) is drawn by ``family`` (:data:`enhance_lib.training.suns.FAMILIES`).
    The default, ``'cells'``, holds granulation with network, one sunspot (penumbral
    radius 5-8") in the left third, a plage region (radius 6-9") in the right third and
    three pores (0.8-1.8") placed away from the spot; ``'basins'`` and ``'clustered'``
    draw theirs by other rules (:mod:`enhance_lib.training.suns`); every draw comes from
    ``seed``, and features shrink with scenes smaller than 80". The input is seen through
    the PSF of ``state`` (default :data:`enhance_lib.instrument.states.DEFAULT_STATE`,
    with which the default family gives the scenes the shipped error network was calibrated
    on, byte for byte). The noise is ``numpy.random.default_rng([seed, 1 + kind index])``
    normal deviates times ``sigma``, correlated over the state's correlation length
    (:func:`enhance_lib.instrument.states.correlated_noise`).

    Parameters
    ----------
    kind : {'intensity', 'blos'}
    seed : int
    family : str
        A key of :data:`enhance_lib.training.suns.FAMILIES`.
    state : enhance_lib.instrument.states.InstrumentState, optional
        The PSF and the noise (e.g. :func:`enhance_lib.instrument.states.draw_state`).
    size : int
        Truth pixels on a side; at least 512 (32") and a multiple of 8 (whole HMI pixels).
    sigma : float, optional
        Noise per input pixel in the input's units; default the state's for ``kind``
        (:data:`DEFAULT_SIGMA` for the default state).

    Returns
    -------
    TruthScene

    Raises
    ------
    EnhanceError
        For an unknown ``kind`` or ``family``, a bad ``state`` or ``size``, or a negative
        ``sigma``.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sect. 3: the input (HMI PSF, 0.504"/px, noise) and target (28 cm
    Airy pattern, 0.252"/px) of each training pair.

    Liu, Y., Hoeksema, J. T., Scherrer, P. H., et al. 2012, Sol. Phys. 279, 295,
    "Comparison of line-of-sight magnetograms taken by the Solar Dynamics Observatory/Helioseismic
    and Magnetic Imager and Solar and Heliospheric Observatory/Michelson Doppler Imager": the
    noise of HMI's 45 s magnetograms, 10.2 G.
    """
    check_kind(kind)
    size = _check_size(size)
    if family not in FAMILIES:
        msg = f"unknown `family` {family!r} (choose from {', '.join(FAMILIES)})"
        raise EnhanceError(msg)
    state = DEFAULT_STATE if state is None else state
    if not isinstance(state, InstrumentState):
        msg = f"`state` must be an InstrumentState, got {state!r}"
        raise EnhanceError(msg)
    sigma = state.sigma(kind) if sigma is None else float(sigma)
    if not (math.isfinite(sigma) and sigma >= 0):
        msg = f"`sigma` must be >= 0, got {sigma!r}"
        raise EnhanceError(msg)
    pairs, regions = _truth(family, int(seed), size)
    target, truth = pairs[kind]
    clean = _hmi(family, int(seed), size, tuple(sorted(state.psf_params.items())))[kind]
    rng = np.random.default_rng([int(seed), 1 + ("intensity", "blos").index(kind)])
    data = _frozen(clean + correlated_noise(rng, clean.shape, sigma=sigma, length=state.correlation))
    return TruthScene(kind=kind, seed=int(seed), data=data, clean=clean, target=target, sigma=sigma,
                      header=hmi_like_header(kind, clean.shape), regions=regions, truth=truth, family=family,
                      state=state)


def truth_scenes(kind, *, seeds, family="cells", state=None, size=1280, sigma=None):
    """:func:`truth_scene` for each of ``seeds`` (a list), of one family and state."""
    return [truth_scene(kind, seed=s, family=family, state=state, size=size, sigma=sigma) for s in seeds]


def full_disk(scene, *, size=1024, radius_fraction=0.465):
    """A full disk made of a scene: its HMI-like structure over the disk, HMI's limb.

    The scene's noise-free input, mirrored to cover the disk, times the Neckel & Labs (1994)
    limb darkening at 6173 A (intensity; a magnetogram keeps its field), with a
    pixel-integrated limb (:func:`enhance_lib.training.synthetic_sun.limb_disk`) blurred by
    the scene's HMI PSF (its state's) as HMI's limb is, then the scene's noise (white or
    correlated as its state says); NaN off the disk. The centre is off
    the pixel grid by a fraction of a pixel.

    Parameters
    ----------
    scene : TruthScene
    size : int
        Pixels on a side (HMI's are 4096).
    radius_fraction : float
        The disk's radius over ``size`` (0.465 for HMI's 1900-pixel radius).

    Returns
    -------
    data : numpy.ndarray of float32, shape (size, size)
    header : astropy.io.fits.Header
        The scene's, with the disk's centre (CRPIX at CRVAL 0, 0) and RSUN_OBS, so that the
        Enhancer places its limb.
    """
    from ..sun.disk import DiskGeometry
    from ..sun.limb_darkening import NECKEL_LABS_6173

    centre = (size - 1) / 2
    geometry = DiskGeometry(x0=centre + 0.3, y0=centre - 0.2, radius=radius_fraction * size)
    clean = np.asarray(scene.clean, dtype=np.float64)
    reps = [math.ceil(size / n) + 1 for n in clean.shape]
    texture = np.pad(clean, [(0, (r - 1) * n) for r, n in zip(reps, clean.shape, strict=True)],
                     mode="symmetric")[:size, :size]
    if scene.kind == "intensity":
        def profile(mu):
            return np.polyval(NECKEL_LABS_6173[::-1], mu)
    else:
        profile = None
    disk = sun.limb_disk((size, size), geometry, profile=profile, texture=texture)
    off = ~np.isfinite(disk)
    blurred = forward_model.convolve(np.where(off, 0.0, disk), scene.state.psf(pixel_scale=HMI_SCALE))
    rng = np.random.default_rng([scene.seed, 7])
    if scene.state.correlation:
        blurred += correlated_noise(rng, blurred.shape, sigma=scene.sigma, length=scene.state.correlation)
    else:
        blurred += rng.normal(0.0, scene.sigma, blurred.shape)
    blurred[off] = np.nan
    header = hmi_like_header(scene.kind, (size, size))
    header["CRPIX1"], header["CRPIX2"] = geometry.x0 + 1, geometry.y0 + 1
    header["RSUN_OBS"] = geometry.radius * HMI_SCALE
    return blurred.astype(np.float32), header
