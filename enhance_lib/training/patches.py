"""Patch pairs for training databases: where to cut them, how to normalise and augment them.

:func:`cut_patches` cuts random aligned patch pairs from co-aligned low/high-resolution
images (high exactly twice the size of low), normalised in the networks' units
(:func:`normalization_factor`: the grammar of inference,
:func:`enhance_lib.sun.normalization.parse_method`, plus ``'auto'`` for its default) and,
for observed pairs, augmented by the dihedral group (:func:`dihedral`) and, for
magnetograms, random signs. Both database builders use it: :mod:`enhance_lib.training.simulate`
and :mod:`enhance_lib.training.pairs`.

Normalisation follows the paper: intensities in units of the quiet-Sun level of the
*input* (low-resolution) image, magnetograms in kG.
"""

import dataclasses
import logging
import math

import numpy as np

from ..errors import EnhanceError
from ..sun.kinds import check_kind
from ..sun.normalization import BLOS_DEFAULT, check_method, constant_level

log = logging.getLogger(__name__)

__all__ = [
    "EDGES",
    "as_planes",
    "check_patch_args",
    "cut_patches",
    "describe_normalization",
    "dihedral",
    "normalization_factor",
    "parse_box",
    "parse_normalization",
]

#: Edges of an image, in array terms (row 0 is the first row).
EDGES = ("first-row", "last-row", "first-column", "last-column")


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


def parse_normalization(kind, normalization):
    """A training normalisation as ``(name, number or None)``, in the grammar of inference.

    ``'auto'`` (or None) is inference's default for ``kind``; anything else is read by
    :func:`enhance_lib.sun.normalization.check_method` ('quiet-sun', 'max', 'none' or a
    positive number).

    Raises
    ------
    EnhanceError
        Naming the parameter (```normalization```).
    """
    method = None if normalization is None or (isinstance(normalization, str) and normalization == "auto") else (
        normalization)
    try:
        return check_method(kind, method)
    except EnhanceError as exc:
        raise EnhanceError(f"`normalization`: {exc}") from None


def normalization_factor(image, *, kind, normalization="auto"):
    """The divisor that normalises an image, following the paper's units.

    Parameters
    ----------
    image : ndarray
        The *input* (low-resolution) image; NaNs are ignored.
    kind : {'intensity', 'blos'}
    normalization : 'auto', 'quiet-sun', 'max', 'none' or a positive number
        'auto' (inference's default): the quiet-Sun level
        (:func:`enhance_lib.sun.limb_darkening.quiet_sun_level`) for intensity,
        :data:`~enhance_lib.sun.normalization.BLOS_DEFAULT` (G -> kG) for magnetograms
        (Díaz Baso & Asensio Ramos 2018, Sect. 3); the others as in inference
        (:func:`enhance_lib.sun.normalization.parse_method`), without a limb-darkening profile.

    Returns
    -------
    float
    """
    name, value = parse_normalization(kind, normalization)
    image = np.asarray(image)
    return float(constant_level(name, value, image[np.isfinite(image)]))


#: How a database's attributes describe its normalisation ('auto' as its method's).
_DESCRIPTIONS = {
    "quiet-sun": "divided by the quiet-Sun level of the input image (normalize.quiet_sun_level)",
    "max": "divided by the maximum of the input image",
    "none": "none",
}


def describe_normalization(kind, normalization):
    """The normalisation in words, for the database's ``normalization`` attribute."""
    name, value = parse_normalization(kind, normalization)
    if name == "constant" and normalization in (None, "auto"):
        return f"G -> kG (divided by {BLOS_DEFAULT:g})"
    return _DESCRIPTIONS.get(name) or f"divided by {value:g}"


def dihedral(image, index):
    """Element ``index`` (0-7) of the dihedral group D4 applied to the last two axes.

    0-3 rotate by ``index`` quarter turns; 4-7 also transpose first.
    Returns a new array.
    """
    index = int(index)
    out = np.swapaxes(image, -1, -2) if index >= 4 else image
    return np.ascontiguousarray(np.rot90(out, index % 4, axes=(-2, -1)))


def check_patch_args(n_patches, patch_size):
    """Refuse fewer than one patch or patches of less than one pixel."""
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


def as_planes(data, path):
    """An image (one plane) or a cube (its planes) as a list of 2-D float32 arrays."""
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
    normalization : 'auto', 'quiet-sun', 'max', 'none' or a positive number
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
    check_kind(kind)
    check_patch_args(n_patches, patch_size)
    parse_normalization(kind, normalization)
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
