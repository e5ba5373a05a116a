"""Simulated training databases: truths degraded by the HMI and target forward models.

:func:`simulate_database` (``enhance-database simulate``) follows the recipe of Díaz Baso &
Asensio Ramos (2018, A&A 614, A5, Sect. 3): high-resolution truths (MURaM snapshots, or the
synthetic Sun of :mod:`enhance_lib.training.synthetic_sun`) degraded by the HMI PSF to
0.504"/px (inputs, plus Gaussian noise) and by the Airy pattern of a 28 cm telescope to
0.252"/px (targets) (:func:`simulate_pairs`), cut into random aligned patch pairs
(:func:`enhance_lib.training.patches.cut_patches`) and written with
:func:`enhance_lib.training.database_file.write_database`. :func:`synthetic_database` keeps a
synthetic-Sun database in a cache folder (:func:`cache_dir`), for ``train.py`` without
``--database``.

Every database records its data type (``'intensity'`` or ``'blos'``) in the file
attribute ``type``; ``train.py`` copies it into the weights it writes.
"""

import logging
import math
import os

import numpy as np

from ..errors import EnhanceError, warn_user
from ..instrument import forward_model, psf
from ..io.fits import read_image
from ..nets.config import HMI_SCALE
from ..sun.kinds import check_kind
from . import synthetic_sun as sun
from .database_file import check_database, write_database
from .patches import as_planes, check_patch_args, cut_patches, describe_normalization, parse_normalization

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_NOISE",
    "SYNTHETIC_DEFAULTS",
    "SYNTHETIC_RECIPE",
    "cache_dir",
    "simulate_database",
    "simulate_pairs",
    "synthetic_database",
]

#: Gaussian noise added to the simulated inputs, in normalised units (I/I_qs and kG):
#: the values Díaz Baso & Asensio Ramos (2018) trained with.
DEFAULT_NOISE = {"intensity": 1e-3, "blos": 1e-2}


def simulate_pairs(
    truths,
    *,
    pixel_scale,
    kind,
    hmi_scale=None,
    target_scale=None,
    psf_variant="enhance",
    diameter=None,
    wavelength=None,
):
    """Degrade high-resolution truths to (HMI-like, target) image pairs.

    The recipe of Díaz Baso & Asensio Ramos (2018, A&A 614, A5, Sect. 3): inputs are
    the truth convolved with the HMI PSF and resampled to 0.504"/px; targets the
    truth convolved with the Airy pattern of a 28 cm aperture and resampled to
    0.252"/px. Targets are cropped to exactly twice the input size.

    Returns
    -------
    lows, highs : list of ndarray
    """

    check_kind(kind)
    hmi_scale = HMI_SCALE if hmi_scale is None else float(hmi_scale)
    target_scale = psf.TARGET_SCALE if target_scale is None else float(target_scale)
    diameter = psf.TARGET_DIAMETER if diameter is None else float(diameter)
    wavelength = psf.WAVELENGTH if wavelength is None else float(wavelength)
    if not math.isclose(hmi_scale, 2 * target_scale, rel_tol=1e-9):
        msg = (
            f"the target scale must be exactly half the input scale "
            f"(got {hmi_scale:g} and {target_scale:g} arcsec/px)"
        )
        raise EnhanceError(msg)
    lows, highs = [], []
    for truth in truths:
        low = forward_model.degrade(
            truth, pixel_scale=pixel_scale, out_scale=hmi_scale, psf="hmi",
            variant=psf_variant, wavelength=wavelength,
        )
        high = forward_model.degrade(
            truth, pixel_scale=pixel_scale, out_scale=target_scale, psf="airy",
            diameter=diameter, wavelength=wavelength,
        )
        high = high[: 2 * low.shape[0], : 2 * low.shape[1]]
        lows.append(low)
        highs.append(high)
    return lows, highs


def _synthetic_truths(kind, *, scenes, scene_size, seed, pixel_scale):

    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=scenes)
    # A sunspot (5-10" radius) in every other scene that is large enough to hold one.
    spot_fits = scene_size * pixel_scale >= 48.0
    for k, s in enumerate(seeds):
        scene = sun.synthetic_sun(
            shape=(scene_size, scene_size),
            pixel_scale=pixel_scale,
            seed=int(s),
            spots=1 if (k % 2 == 0 and spot_fits) else 0,
            pores=3,
            plage=1,
        )
        yield scene.intensity if kind == "intensity" else scene.blos


def _read_truths(paths):

    for path in paths:
        image = read_image(path)
        for plane in as_planes(image.data, path):
            if not np.isfinite(plane).all():
                raise EnhanceError("truth contains NaN or infinite values", path=path)
            yield plane


def simulate_database(
    output,
    *,
    kind,
    truth=None,
    pixel_scale=None,
    scenes=4,
    scene_size=1024,
    n_patches=1000,
    patch_size=50,
    hmi_scale=None,
    target_scale=None,
    psf_variant="enhance",
    diameter=None,
    wavelength=None,
    noise=None,
    normalization="auto",
    seed=0,
):
    """Build a database by degrading truths (FITS files or the synthetic Sun).

    Parameters
    ----------
    output : str
        HDF5 file to write (atomically).
    kind : {'intensity', 'blos'}
    truth : sequence of str, optional
        FITS files of 2-D images or 3-D cubes of snapshots (intensity, or B in G).
        Without them, ``scenes`` synthetic Suns of ``scene_size`` pixels.
    pixel_scale : float
        arcsec/px of the truth; required with ``truth``; default 0.063 (0.504/8) for
        the synthetic Sun.
    n_patches, patch_size : int
    hmi_scale, target_scale : float
        Input and target sampling (default 0.504 and 0.252 arcsec/px).
    psf_variant : {'enhance', 'wachter'}
    diameter, wavelength : float
        Target telescope aperture (m, default 0.28) and wavelength (m, 6173e-10).
    noise : float, optional
        Gaussian noise on the inputs in normalised units (default 1e-3 I/I_qs,
        1e-2 kG).
    normalization : 'auto', 'quiet-sun', 'max', 'none' or a positive number
    seed : int

    Returns
    -------
    DatabaseInfo
    """

    check_kind(kind)
    check_patch_args(n_patches, patch_size)
    parse_normalization(kind, normalization)
    if truth:
        if pixel_scale is None:
            raise EnhanceError("`pixel_scale` (arcsec/px of the truth) is required with `truth`")
        sources = [os.fspath(t) for t in truth]
        planes = _read_truths(sources)
    else:
        pixel_scale = HMI_SCALE / 8 if pixel_scale is None else pixel_scale
        if int(scenes) < 1 or int(scene_size) < 64:
            msg = f"need at least one scene of at least 64 pixels (got {scenes} of {scene_size})"
            raise EnhanceError(msg)
        sources = [f"synthetic_sun(seed={seed}, scenes={scenes}, size={scene_size})"]
        planes = _synthetic_truths(
            kind, scenes=int(scenes), scene_size=int(scene_size), seed=seed, pixel_scale=pixel_scale
        )
    pixel_scale = float(pixel_scale)
    if not pixel_scale > 0:
        msg = f"`pixel_scale` must be positive, got {pixel_scale}"
        raise EnhanceError(msg)
    noise = DEFAULT_NOISE[kind] if noise is None else float(noise)
    lows, highs = [], []
    for plane in planes:
        lo, hi = simulate_pairs(
            [plane], pixel_scale=pixel_scale, kind=kind, hmi_scale=hmi_scale,
            target_scale=target_scale, psf_variant=psf_variant, diameter=diameter,
            wavelength=wavelength,
        )
        lows += lo
        highs += hi
    inputs, targets, meta = cut_patches(
        lows, highs, kind=kind, n_patches=n_patches, patch_size=patch_size, augment=False,
        normalization=normalization, noise=noise, seed=seed,
    )
    attrs = {
        "mode": "simulate",
        "type": kind,
        "psf_variant": psf_variant,
        "truth_pixel_scale": pixel_scale,
        "input_pixel_scale": HMI_SCALE if hmi_scale is None else float(hmi_scale),
        "target_pixel_scale": psf.TARGET_SCALE if target_scale is None else float(target_scale),
        "hmi_diameter": psf.HMI_DIAMETER,
        "target_diameter": psf.TARGET_DIAMETER if diameter is None else float(diameter),
        "wavelength": psf.WAVELENGTH if wavelength is None else float(wavelength),
        "noise": noise,
        "normalization": describe_normalization(kind, normalization),
        "normalization_factors": [float(f) for f in meta["factors"]],
        "sources": sources,
        "snapshots": len(lows),
        "seed": int(seed),
        "patch_size": int(patch_size),
        "augment": False,
        "recipe": SYNTHETIC_RECIPE,
    }
    write_database(output, inputs, targets, attrs=attrs)
    return check_database(output)


#: Version of the ``simulate`` recipe (the synthetic Sun, the forward models, the
#: patch cutting): bump it when they change, so that cached databases are rebuilt.
SYNTHETIC_RECIPE = 1
#: Size of the synthetic-Sun database ``train.py`` makes without ``--database``:
#: 8 scenes of 64" (1024 px at 0.063"/px, 128 HMI pixels), 1600 patch pairs of
#: 50 -> 100 px; about half a minute to build on 2 cores. A keepsize network (depth 3,
#: 32 filters) trained on 1200 such patches for 6 epochs beats bicubic
#: interpolation (``benchmarks/synthetic.py``).
SYNTHETIC_DEFAULTS = {"n_patches": 1600, "scenes": 8, "scene_size": 1024, "patch_size": 50, "seed": 0}


def cache_dir():
    """The folder of cached databases: ``$ENHANCE_CACHE_DIR``, else ``$XDG_CACHE_HOME/enhance``,
    else ``~/.cache/enhance``."""
    env = os.environ.get("ENHANCE_CACHE_DIR")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "enhance")


def _matches(info, expected):
    attrs = info.attrs
    return info.n == expected["n_patches"] and all(
        attrs.get(key) == value
        for key, value in (
            ("mode", "simulate"),
            ("type", expected["kind"]),
            ("recipe", SYNTHETIC_RECIPE),
            ("seed", expected["seed"]),
            ("patch_size", expected["patch_size"]),
            ("sources", [expected["source"]]),
        )
    )


def synthetic_database(*, kind, folder=None, n_patches=None, scenes=None, scene_size=None, patch_size=None,
                       seed=None):
    """A synthetic-Sun training database from the cache, built there first if needed.

    The database is :func:`simulate_database` without truths (the recipe of the
    paper on synthetic-Sun scenes). It is reused when the cached file is a valid
    database of the same data type, size, seed and recipe version
    (:data:`SYNTHETIC_RECIPE`); otherwise it is (re)built, atomically, so
    concurrent runs never see half a file.

    Parameters
    ----------
    kind : {'intensity', 'blos'}
    folder : str, optional
        Cache folder (default :func:`cache_dir`).
    n_patches, scenes, scene_size, patch_size, seed : int, optional
        Defaults in :data:`SYNTHETIC_DEFAULTS`.

    Returns
    -------
    info : DatabaseInfo
    built : bool
        True when it was built now, False when the cached file was reused.
    """
    check_kind(kind)
    given = {"n_patches": n_patches, "scenes": scenes, "scene_size": scene_size, "patch_size": patch_size,
             "seed": seed}
    opts = {k: int(SYNTHETIC_DEFAULTS[k] if v is None else v) for k, v in given.items()}
    folder = cache_dir() if folder is None else os.fspath(folder)
    name = (f"synthetic_{kind}_r{SYNTHETIC_RECIPE}_{opts['scenes']}x{opts['scene_size']}px_"
            f"{opts['n_patches']}x{opts['patch_size']}px_seed{opts['seed']}.h5")
    path = os.path.join(folder, name)
    expected = dict(opts, kind=kind,
                    source=f"synthetic_sun(seed={opts['seed']}, scenes={opts['scenes']}, size={opts['scene_size']})")
    if os.path.exists(path):
        try:
            info = check_database(path)
        except EnhanceError as exc:
            warn_user(f"cached database unusable ({exc}); building it again")
        else:
            if _matches(info, expected):
                return info, False
            log.info("%s: cached database of another recipe or size; building it again", path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the cache folder ({exc.strerror}); set ENHANCE_CACHE_DIR to a writable folder"
        raise EnhanceError(msg, path=folder) from None
    log.info("building a synthetic-Sun %s database (%d scenes of %d px, %d patches of %d px) in %s",
             kind, opts["scenes"], opts["scene_size"], opts["n_patches"], opts["patch_size"], path)
    try:
        info = simulate_database(path, kind=kind, scenes=opts["scenes"], scene_size=opts["scene_size"],
                                 n_patches=opts["n_patches"], patch_size=opts["patch_size"], seed=opts["seed"])
    except OSError as exc:
        msg = f"cannot write the cached database ({exc}); set ENHANCE_CACHE_DIR to a writable folder"
        raise EnhanceError(msg, path=path) from None
    return info, True
