"""Building training databases: patch pairs from simulated or observed images.

Two builders, also available as ``enhance-database`` (:mod:`enhance_lib.scripts.database`):

* :func:`simulate_database` (``simulate``): the recipe of Díaz Baso & Asensio Ramos
  (2018, A&A 614, A5, Sect. 3): high-resolution truths (MURaM snapshots, or the
  synthetic Sun of :mod:`enhance_lib.training.synthetic_sun`) degraded by the HMI PSF to 0.504"/px
  (inputs, plus Gaussian noise) and by the Airy pattern of a 28 cm telescope to
  0.252"/px (targets), cut into random aligned patch pairs;
* :func:`pairs_database` (``pairs``): random aligned patches of co-aligned observed
  low/high-resolution image pairs (high exactly twice the size of low), with
  dihedral (and, for magnetograms, sign-flip) augmentation.

Both cut their patches with :func:`cut_patches` and write them with
:func:`enhance_lib.training.database_file.write_database`. :func:`synthetic_database` keeps a
synthetic-Sun ``simulate`` database in a cache folder (:func:`cache_dir`), for
``train.py`` without ``--database``.

Every database records its data type (``'intensity'`` or ``'blos'``) in the file
attribute ``type``; ``train.py`` copies it into the weights it writes.

Normalisation follows the paper: intensities in units of the quiet-Sun level of the
*input* (low-resolution) image, magnetograms in kG.
"""

import dataclasses
import logging
import math
import os

import numpy as np

from ..errors import EnhanceError, warn_user
from ..sun.kinds import KINDS
from .database_file import check_database, write_database

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_NOISE",
    "EDGES",
    "SYNTHETIC_DEFAULTS",
    "SYNTHETIC_RECIPE",
    "TYPES",
    "cache_dir",
    "cut_patches",
    "dihedral",
    "normalization_factor",
    "pairs_database",
    "parse_box",
    "simulate_database",
    "simulate_pairs",
    "synthetic_database",
]

#: Edges of an image, in array terms (row 0 is the first row).
EDGES = ("first-row", "last-row", "first-column", "last-column")
TYPES = KINDS  # the name this module has always exported
#: Gaussian noise added to the simulated inputs, in normalised units (I/I_qs and kG):
#: the values Díaz Baso & Asensio Ramos (2018) trained with.
DEFAULT_NOISE = {"intensity": 1e-3, "blos": 1e-2}
KG = 1000.0  # G per kG


def _check_type(kind):
    if kind not in TYPES:
        msg = f"unknown data type {kind!r} (choose {' or '.join(TYPES)})"
        raise EnhanceError(msg)


def parse_box(text):
    """Parse a box ``'y0:y1,x0:x1'`` (Python slice bounds, end exclusive).

    Returns
    -------
    tuple of int
        ``(y0, y1, x0, x1)``.
    """
    try:
        ys, xs = str(text).split(",")
        y0, y1 = (int(v) for v in ys.split(":"))
        x0, x1 = (int(v) for v in xs.split(":"))
    except ValueError:
        msg = f"box {text!r} is not of the form y0:y1,x0:x1 (integers)"
        raise EnhanceError(msg) from None
    if y0 < 0 or x0 < 0 or y1 <= y0 or x1 <= x0:
        msg = f"box {text!r} is empty or negative (need 0 <= y0 < y1 and 0 <= x0 < x1)"
        raise EnhanceError(msg)
    return (y0, y1, x0, x1)


def normalization_factor(image, *, kind, normalization="auto"):
    """The divisor that normalises an image, following the paper's units.

    Parameters
    ----------
    image : ndarray
        The *input* (low-resolution) image; NaNs are ignored.
    kind : {'intensity', 'blos'}
    normalization : 'auto', 'none' or float
        'auto': the quiet-Sun level (:func:`enhance_lib.sun.normalization.quiet_sun_level`)
        for intensity, 1000 (G -> kG) for magnetograms (Díaz Baso & Asensio Ramos
        2018, Sect. 3); 'none': 1; a number: that number.

    Returns
    -------
    float
    """
    if normalization in (None, "auto"):
        if kind == "intensity":
            from ..sun.limb_darkening import quiet_sun_level

            return float(quiet_sun_level(image))
        return KG
    if normalization == "none":
        return 1.0
    try:
        value = float(normalization)
    except (TypeError, ValueError):
        msg = f"`normalization` must be 'auto', 'none' or a number, got {normalization!r}"
        raise EnhanceError(msg) from None
    if not (math.isfinite(value) and value != 0):
        msg = f"`normalization` must be a finite non-zero number, got {normalization!r}"
        raise EnhanceError(msg)
    return value


def dihedral(image, index):
    """Element ``index`` (0-7) of the dihedral group D4 applied to the last two axes.

    0-3 rotate by ``index`` quarter turns; 4-7 also transpose first.
    Returns a new array.
    """
    index = int(index)
    out = np.swapaxes(image, -1, -2) if index >= 4 else image
    return np.ascontiguousarray(np.rot90(out, index % 4, axes=(-2, -1)))


def _check_patch_args(n_patches, patch_size):
    if int(n_patches) < 1:
        msg = f"`n_patches` must be at least 1, got {n_patches}"
        raise EnhanceError(msg)
    if int(patch_size) < 1:
        msg = f"`patch_size` must be at least 1, got {patch_size}"
        raise EnhanceError(msg)


def _valid_corners(bad, patch_size):
    """Boolean map of the top-left corners whose ``patch_size`` box holds no bad pixel."""
    ny, nx = bad.shape
    if ny < patch_size or nx < patch_size:
        return np.zeros((max(ny - patch_size + 1, 0), max(nx - patch_size + 1, 0)), bool)
    table = np.zeros((ny + 1, nx + 1), dtype=np.int64)
    table[1:, 1:] = np.cumsum(np.cumsum(bad, axis=0), axis=1)
    p = patch_size
    count = table[p:, p:] - table[:-p, p:] - table[p:, :-p] + table[:-p, :-p]
    return count == 0


def _as_planes(data, path):
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        return [data]
    if data.ndim == 3:
        return [data[i] for i in range(data.shape[0])]
    msg = f"need a 2-D image or a 3-D cube, got shape {data.shape}"
    raise EnhanceError(msg, path=path)


def cut_patches(
    lows,
    highs,
    *,
    kind,
    n_patches,
    patch_size=50,
    region=None,
    exclude=(),
    augment=True,
    sign_flips=True,
    normalization="auto",
    noise=0.0,
    loss_border=0,
    cut_edges=(),
    seed=0,
    names=None,
):
    """Cut random aligned patch pairs from co-aligned low/high-resolution images.

    Input pixel ``(i, j)`` of a low image covers pixels ``2i..2i+1, 2j..2j+1`` of its
    high image, so a low patch at ``(i, j)`` of size ``p`` pairs with the high patch
    at ``(2i, 2j)`` of size ``2p``.

    Parameters
    ----------
    lows, highs : sequence of 2-D arrays
        Pairs; ``high.shape == 2 * low.shape``.
    kind : {'intensity', 'blos'}
    n_patches : int
    patch_size : int
        Input patch size (targets are twice as large).
    region : tuple of int, optional
        ``(y0, y1, x0, x1)`` in low pixels: patches lie wholly inside it.
    exclude : sequence of tuple
        Boxes ``(y0, y1, x0, x1)`` (low pixels) no patch may overlap.
    augment : bool
        Apply a random element of the dihedral group (rotations and flips) to each
        pair, and for magnetograms a random sign (B -> -B).
    sign_flips : bool
        With ``augment``, the random signs of magnetograms. Turn them off to
        reproduce a teacher whose output is not odd in B (a network with biases
        and ReLUs is not, unless trained to be).
    normalization : 'auto', 'none' or float
        See :func:`normalization_factor`; computed per pair from the low image.
    noise : float
        Gaussian noise (normalised units) added to the input patches.
    loss_border : int
        Target pixels at each patch edge to leave out of the training loss, where
        a network sees reflected pixels but the target was made from the real
        surroundings (e.g. by a teacher network that saw the whole image).
        Along an edge of the image itself both saw the same padding, so there the
        pixels count; and patches on such edges are drawn more often, so that the
        pixels near image edges count about as often as interior ones. 0 (the
        default): no mask; all pixels count and positions are drawn uniformly.
    cut_edges : sequence of str
        Edges of the images (from :data:`EDGES`) that are cuts of a larger image
        the targets were made from, and so not image edges for ``loss_border``.
    seed : int
    names : sequence of str, optional
        Labels of the pairs for messages.

    Returns
    -------
    inputs : ndarray, float32 (N, p, p)
    targets : ndarray, float32 (N, 2p, 2p)
    meta : dict
        ``factors`` (per pair), ``sources`` (pair index per patch), ``corners``,
        ``mask`` (bool (N, 2p, 2p), or None without ``loss_border``).
    """
    _check_type(kind)
    _check_patch_args(n_patches, patch_size)
    p, n, border = int(patch_size), int(n_patches), int(loss_border)
    if len(lows) != len(highs) or not lows:
        msg = f"need as many high as low images (got {len(lows)} low, {len(highs)} high)"
        raise EnhanceError(msg)
    names = list(names) if names is not None else [f"pair {k}" for k in range(len(lows))]
    if not 0 <= border < p:
        msg = f"`loss_border` must be between 0 and {p - 1} for {p}x{p} patches, got {loss_border}"
        raise EnhanceError(msg)
    unknown = sorted(set(cut_edges) - set(EDGES))
    if unknown:
        msg = f"unknown image edge(s) {', '.join(unknown)}; choose from {', '.join(EDGES)}"
        raise EnhanceError(msg)
    rng = np.random.default_rng(seed)
    positions = _find_positions(lows, highs, kind=kind, patch_size=p, region=region, exclude=exclude,
                                normalization=normalization, loss_border=border, cut_edges=cut_edges, names=names)
    pair_of, index = _draw_positions(positions, n, rng=rng)
    inputs, targets, chosen, mask = _cut_pairs(
        lows, highs, positions, pair_of, index, patch_size=p, kind=kind, augment=augment,
        sign_flips=sign_flips, loss_border=border, rng=rng,
    )
    if noise:
        inputs += (float(noise) * rng.standard_normal(inputs.shape)).astype(np.float32)
    log.info(
        "cut %d patch pairs (%dx%d -> %dx%d) from %d image pair(s), %d valid positions",
        n_patches, p, p, 2 * p, 2 * p, len(lows), positions.total,
    )
    meta = {
        "factors": positions.factors, "sources": pair_of, "corners": chosen,
        "valid_positions": positions.counts, "mask": mask,
    }
    return inputs, targets, meta


@dataclasses.dataclass
class _Positions:
    """Where patches may be cut, pair by pair (the first phase of :func:`cut_patches`).

    Attributes
    ----------
    corners : list of ndarray of int, (M_k, 2)
        Top-left corners (low pixels) of the valid patches of each pair.
    on_edges : list of ndarray of bool, (M_k, 4)
        With a loss border: whether each patch lies on the image edges (:data:`EDGES`).
    weights : list of ndarray of float, (M_k,)
        With a loss border: how often each position is drawn, relative to the others.
    factors : list of float
        Normalisation factor of each pair (NaN for a pair without valid positions).
    """

    corners: list
    on_edges: list
    weights: list
    factors: list

    @property
    def counts(self):
        """Valid positions of each pair."""
        return np.array([c.shape[0] for c in self.corners])

    @property
    def total(self):
        """Valid positions of all pairs."""
        return int(self.counts.sum())


def _find_positions(lows, highs, *, kind, patch_size, region, exclude, normalization, loss_border, cut_edges,
                    names):
    """Phase 1 of :func:`cut_patches`: the valid patch positions of every pair, and its normalisation.

    A position is valid when its low patch and the matching high patch hold only finite
    values, lie inside ``region`` and overlap no box of ``exclude``.

    Returns
    -------
    _Positions

    Raises
    ------
    EnhanceError
        A high image not twice its low image, a region outside an image or smaller than a
        patch, an image smaller than a patch, or no valid position at all.
    """
    p, border = patch_size, loss_border
    # Along an image edge, a patch touching it has its loss border there counted;
    # this weight makes such pixels about as often covered as interior ones.
    edge_weight = max(1, p - 2 * math.ceil(border / 2))
    positions = _Positions(corners=[], on_edges=[], weights=[], factors=[])
    for k, (low, high) in enumerate(zip(lows, highs, strict=True)):
        low = np.asarray(low, dtype=np.float64)
        high = np.asarray(high, dtype=np.float64)
        if high.shape != (2 * low.shape[0], 2 * low.shape[1]):
            msg = (
                f"{names[k]}: high-resolution image {high.shape} is not exactly twice the "
                f"low-resolution image {low.shape}"
            )
            raise EnhanceError(msg)
        ny, nx = low.shape
        bad = ~np.isfinite(low)
        bad |= ~np.isfinite(high).reshape(ny, 2, nx, 2).all(axis=(1, 3))
        if region is not None:
            y0, y1, x0, x1 = region
            if y1 > ny or x1 > nx:
                msg = f"{names[k]}: region {region} extends beyond the low image {low.shape}"
                raise EnhanceError(msg)
            if y1 - y0 < p or x1 - x0 < p:
                msg = f"region {y0}:{y1},{x0}:{x1} is smaller than the patch size {p}"
                raise EnhanceError(msg)
            inside = np.zeros_like(bad)
            inside[y0:y1, x0:x1] = True
            bad |= ~inside
        for y0, y1, x0, x1 in exclude:
            bad[y0:y1, x0:x1] = True
        if ny < p or nx < p:
            msg = f"{names[k]}: low image {low.shape} is smaller than the patch size {p}"
            raise EnhanceError(msg)
        corners = np.argwhere(_valid_corners(bad, p))
        positions.corners.append(corners)
        if border:
            on = _on_image_edges(corners, p, low.shape, cut_edges)
            positions.on_edges.append(on)
            rows = np.where(on[:, 0] | on[:, 1], edge_weight, 1.0)
            cols = np.where(on[:, 2] | on[:, 3], edge_weight, 1.0)
            positions.weights.append(rows * cols)
        if corners.size:
            positions.factors.append(normalization_factor(low, kind=kind, normalization=normalization))
        else:
            positions.factors.append(float("nan"))
    if positions.total == 0:
        msg = (
            f"no {p}x{p} patch fits: every position overlaps NaNs, an excluded box or "
            "the edge of the region"
        )
        raise EnhanceError(msg)
    return positions


def _draw_positions(positions, n_patches, *, rng):
    """Phase 2 of :func:`cut_patches`: draw ``n_patches`` positions among the valid ones.

    Each patch goes to a pair in proportion to its number of valid positions: uniformly
    over all positions, or, with a loss border, by the positions' weights.

    Returns
    -------
    pair_of : ndarray of int, (n_patches,)
        The pair of each patch.
    index : ndarray of int, (n_patches,)
        The position of each patch among its pair's valid positions.
    """
    total = positions.total
    if positions.weights:
        weights = np.concatenate(positions.weights)
        flat = rng.choice(total, size=n_patches, p=weights / weights.sum())
    else:
        flat = rng.integers(0, total, size=n_patches)
    offsets = np.concatenate([[0], np.cumsum(positions.counts)])
    pair_of = np.searchsorted(offsets, flat, side="right") - 1
    return pair_of, flat - offsets[pair_of]


def _cut_pairs(lows, highs, positions, pair_of, index, *, patch_size, kind, augment, sign_flips, loss_border,
               rng):
    """Phase 3 of :func:`cut_patches`: cut, normalise and augment the drawn patch pairs.

    Returns
    -------
    inputs : ndarray, float32 (N, p, p)
    targets : ndarray, float32 (N, 2p, 2p)
    corners : ndarray of int, (N, 2)
        Top-left corner (low pixels) of each patch.
    mask : ndarray of bool, (N, 2p, 2p), or None
        With a loss border: the target pixels that count in the loss.
    """
    p, n, border = patch_size, len(pair_of), loss_border
    inputs = np.empty((n, p, p), dtype=np.float32)
    targets = np.empty((n, 2 * p, 2 * p), dtype=np.float32)
    chosen = np.empty((n, 2), dtype=np.int64)
    mask = np.zeros((n, 2 * p, 2 * p), dtype=bool) if border else None
    dihedral_index = rng.integers(0, 8, size=n) if augment else None
    signs = (
        np.where(rng.random(n) < 0.5, -1.0, 1.0)
        if augment and sign_flips and kind == "blos"
        else np.ones(n)
    )
    for m in range(n):
        k, at = int(pair_of[m]), index[m]
        i, j = positions.corners[k][at]
        chosen[m] = (i, j)
        factor = positions.factors[k]
        x = np.asarray(lows[k][i : i + p, j : j + p], dtype=np.float64) / factor
        y = np.asarray(highs[k][2 * i : 2 * i + 2 * p, 2 * j : 2 * j + 2 * p], dtype=np.float64)
        y = y / factor
        if border:
            on = positions.on_edges[k][at]
            keep = np.zeros((2 * p, 2 * p), dtype=bool)
            keep[0 if on[0] else border : 2 * p if on[1] else 2 * p - border,
                 0 if on[2] else border : 2 * p if on[3] else 2 * p - border] = True
        if augment:
            x = dihedral(x, dihedral_index[m])
            y = dihedral(y, dihedral_index[m])
            if border:
                keep = dihedral(keep, dihedral_index[m])
        inputs[m] = signs[m] * x
        targets[m] = signs[m] * y
        if border:
            mask[m] = keep
    return inputs, targets, chosen, mask


def _on_image_edges(corners, p, shape, cut_edges):
    """For patch corners (M, 2): whether each patch lies on the image's first row,
    last row, first column, last column (bool (M, 4)); cut edges never count."""
    ny, nx = shape
    on = np.stack(
        [corners[:, 0] == 0, corners[:, 0] + p == ny, corners[:, 1] == 0, corners[:, 1] + p == nx], axis=1
    )
    for e, name in enumerate(EDGES):
        if name in cut_edges:
            on[:, e] = False
    return on


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
    from . import forward_model as psf

    _check_type(kind)
    hmi_scale = psf.HMI_SCALE if hmi_scale is None else float(hmi_scale)
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
        low = psf.degrade(
            truth, pixel_scale=pixel_scale, out_scale=hmi_scale, psf="hmi",
            variant=psf_variant, wavelength=wavelength,
        )
        high = psf.degrade(
            truth, pixel_scale=pixel_scale, out_scale=target_scale, psf="airy",
            diameter=diameter, wavelength=wavelength,
        )
        high = high[: 2 * low.shape[0], : 2 * low.shape[1]]
        lows.append(low)
        highs.append(high)
    return lows, highs


def _synthetic_truths(kind, *, scenes, scene_size, seed, pixel_scale):
    from . import synthetic_sun as sun

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
    from ..io.fits import read_image

    for path in paths:
        image = read_image(path)
        for plane in _as_planes(image.data, path):
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
    normalization : 'auto', 'none' or float
    seed : int

    Returns
    -------
    DatabaseInfo
    """
    from . import forward_model as psf

    _check_type(kind)
    _check_patch_args(n_patches, patch_size)
    if truth:
        if pixel_scale is None:
            raise EnhanceError("`pixel_scale` (arcsec/px of the truth) is required with `truth`")
        sources = [os.fspath(t) for t in truth]
        planes = _read_truths(sources)
    else:
        pixel_scale = psf.HMI_SCALE / 8 if pixel_scale is None else pixel_scale
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
        "input_pixel_scale": psf.HMI_SCALE if hmi_scale is None else float(hmi_scale),
        "target_pixel_scale": psf.TARGET_SCALE if target_scale is None else float(target_scale),
        "hmi_diameter": psf.HMI_DIAMETER,
        "target_diameter": psf.TARGET_DIAMETER if diameter is None else float(diameter),
        "wavelength": psf.WAVELENGTH if wavelength is None else float(wavelength),
        "noise": noise,
        "normalization": _describe_normalization(kind, normalization),
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
    _check_type(kind)
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


def _describe_normalization(kind, normalization):
    if normalization in (None, "auto"):
        return (
            "divided by the quiet-Sun level of the input image (normalize.quiet_sun_level)"
            if kind == "intensity"
            else "G -> kG (divided by 1000)"
        )
    if normalization == "none":
        return "none"
    return f"divided by {float(normalization):g}"


def _check_pair_kinds(low, high, kind):
    """Warn when the headers of a low/high pair say different data types, or not ``kind``.

    Parameters
    ----------
    low, high : enhance_lib.io.fits.FitsImage
    kind : {'intensity', 'blos'}
        The data type the database is built for.
    """
    from ..sun.kinds import kind_from_header

    (lo_kind, lo_reason), (hi_kind, hi_reason) = kind_from_header(low.header), kind_from_header(high.header)
    if lo_kind is not None and hi_kind is not None and lo_kind != hi_kind:
        warn_user(
            f"{low.path} and {high.path} hold different data types: {lo_kind} ({lo_reason}) and "
            f"{hi_kind} ({hi_reason}); pairing them as {kind}",
            stacklevel=4,
        )
        return
    said = [(image.path, found, reason) for image, (found, reason) in
            ((low, (lo_kind, lo_reason)), (high, (hi_kind, hi_reason))) if found is not None and found != kind]
    if said:
        path, found, reason = said[0]
        warn_user(f"{path}: building a {kind} database as asked (`kind`), but the header says {found} ({reason})",
                  stacklevel=4)


def pairs_database(
    output,
    *,
    kind,
    low,
    high,
    n_patches=1000,
    patch_size=50,
    region=None,
    exclude=(),
    augment=True,
    sign_flips=True,
    normalization="auto",
    loss_border=0,
    cut_edges=(),
    seed=0,
):
    """Build a database from co-aligned low/high-resolution FITS image pairs.

    Parameters
    ----------
    output : str
    kind : {'intensity', 'blos'}
    low, high : sequence of str
        FITS files, paired in order; each high image exactly twice the size of its
        low image (3-D cubes pair plane by plane).
    n_patches, patch_size : int
    region : str or tuple, optional
        ``'y0:y1,x0:x1'`` in low pixels: where patches may be cut.
    exclude : sequence of str or tuple
        Boxes (low pixels) no patch may overlap (e.g. a validation region).
    augment : bool
        Random dihedral transforms (and sign flips for blos).
    sign_flips : bool
        With ``augment``, random signs for blos (see :func:`cut_patches`).
    normalization : 'auto', 'none' or float
    loss_border : int
        Target pixels at patch edges (but not at image edges) left out of the
        training loss, stored as the ``lossMask`` dataset (see :func:`cut_patches`).
    cut_edges : sequence of str
        Image edges (:data:`EDGES`) that are cuts of the larger image the high
        images were made from: never counted as image edges.
    seed : int

    Returns
    -------
    DatabaseInfo

    Warns
    -----
    EnhanceUserWarning
        When the headers (``CONTENT``, ``BUNIT``; :func:`enhance_lib.sun.kinds.kind_from_header`)
        of a low and a high image say different data types, or one says another
        data type than ``kind``. The database is built as asked.
    """
    from ..io.fits import read_image

    _check_type(kind)
    _check_patch_args(n_patches, patch_size)
    if len(low) != len(high) or not low:
        msg = f"need as many `high` as `low` files (got {len(low)} low, {len(high)} high)"
        raise EnhanceError(msg)
    region = parse_box(region) if isinstance(region, str) else region
    exclude = [parse_box(b) if isinstance(b, str) else tuple(b) for b in exclude]
    lows, highs, names = [], [], []
    for lo_path, hi_path in zip(low, high, strict=True):
        lo_image, hi_image = read_image(lo_path), read_image(hi_path)
        _check_pair_kinds(lo_image, hi_image, kind)
        lo = _as_planes(lo_image.data, lo_path)
        hi = _as_planes(hi_image.data, hi_path)
        if len(lo) != len(hi):
            msg = f"{len(lo)} low planes but {len(hi)} high planes in {hi_path}"
            raise EnhanceError(msg, path=lo_path)
        for n, (a, b) in enumerate(zip(lo, hi, strict=True)):
            lows.append(a)
            highs.append(b)
            names.append(f"{lo_path} / {hi_path}" + (f" plane {n}" if len(lo) > 1 else ""))
    inputs, targets, meta = cut_patches(
        lows, highs, kind=kind, n_patches=n_patches, patch_size=patch_size, region=region,
        exclude=exclude, augment=augment, sign_flips=sign_flips, normalization=normalization,
        loss_border=loss_border, cut_edges=cut_edges, seed=seed, names=names,
    )
    attrs = {
        "mode": "pairs",
        "type": kind,
        "low": [os.fspath(p) for p in low],
        "high": [os.fspath(p) for p in high],
        "region": None if region is None else list(region),
        "exclude": [list(b) for b in exclude],
        "augment": bool(augment),
        "sign_flips": bool(augment and sign_flips and kind == "blos"),
        "normalization": _describe_normalization(kind, normalization),
        "normalization_factors": [float(f) for f in meta["factors"]],
        "seed": int(seed),
        "patch_size": int(patch_size),
        "loss_border": int(loss_border),
        "cut_edges": list(cut_edges),
    }
    write_database(output, inputs, targets, mask=meta["mask"], attrs=attrs)
    return check_database(output)

