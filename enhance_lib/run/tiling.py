"""Tiled inference and the whole prediction pipeline.

Large images are processed in overlapping tiles. Each tile is extended by the
network's receptive margin on every side (clipped at the image border, where the
network's own reflection padding then acts exactly as on the whole image), and
the output is cropped back to the tile's core. With inference-mode
BatchNormalization every output pixel depends only on input pixels within the
margin, so the tiled output equals the whole-image output to float32 rounding,
while memory is bounded by the tile size.
"""

import logging
import math

import numpy as np

from ..errors import EnhanceError
from ..nets.backend import backend_name, device_scope, import_keras, resolve_device
from ..nets.config import PRECISIONS, minimum_size, receptive_margin
from ..nets.fast import KeepsizeFunction, compile_function, compile_model
from ..nets.weights import fold_batchnorm
from ..sun.limb import limb_input, limb_output
from ..sun.limb_integrals import near_limb
from ..sun.photometry import match_large_scales
from .progress import tile_progress

log = logging.getLogger(__name__)

__all__ = ["CPU_TILES", "DEFAULT_TILE", "GPU_TILE", "Predictor", "default_tile", "enhance_array", "tile_grid"]

DEFAULT_TILE = 512
# CPU tile sizes per backend: the fastest of benchmarks/predict.py's tile sweep
# (benchmarks/results/predict*.md, docs/guide/performance.md).
CPU_TILES = {"tensorflow": DEFAULT_TILE, "jax": 128, "torch": 128}
GPU_TILE = 2048
SCALE = 2


def default_tile(device="cpu"):
    """Tile size for a device and this backend: larger on a GPU, where memory is plentiful
    and launches cost."""
    return GPU_TILE if device == "gpu" else CPU_TILES[backend_name()]


def _inference_network(net, config, precision):
    """The network to run: BN folded into the convolutions, computing in ``precision``; ``net``
    itself when it is that already (as :func:`enhance_lib.nets.weights.build_network` builds it
    with ``fold=True``)."""

    policy = "float32" if precision == "float32" else "mixed_bfloat16"
    has_bn = any("BatchNormalization" in type(layer).__name__ for layer in net.layers)
    if not has_bn and net.dtype_policy.name == policy:
        return net
    keras = import_keras()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return fold_batchnorm(net, config)
    finally:
        keras.config.set_dtype_policy(previous)


def tile_grid(length, tile, *, align=1):
    """Split ``range(length)`` into consecutive core intervals of at most ``tile``.

    Parameters
    ----------
    length : int
    tile : int
        Core size; 0 or ``>= length`` gives one interval.
    align : int
        Interval starts are multiples of ``align`` (2 for the stride-2 encdec).

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> tile_grid(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    >>> tile_grid(10, 0)
    [(0, 10)]
    """
    if tile <= 0 or tile >= length:
        return [(0, length)]
    tile = max(align, tile - tile % align)
    n = math.ceil(length / tile)
    # Spread the remainder so no tile is a sliver (costly for its margin).
    step = math.ceil(length / n / align) * align
    starts = list(range(0, length, step))
    return [(s, min(s + step, length)) for s in starts]


class Predictor:
    """Run an Enhance network on 2-D arrays of any size, tile by tile.

    Parameters
    ----------
    net : keras.Model
        Network mapping (1, ny, nx, 1) to (1, 2ny, 2nx, 1).
    config : NetworkConfig
        Its architecture (for the receptive margin and size limits).
    tile : int, optional
        Core tile size in input pixels (0: whole image in one piece); default
        :func:`default_tile` for the device.
    precision : {'float32', 'bfloat16'}
        ``bfloat16`` computes in bfloat16 with float32 weights (at ~1 % relative
        error; faster only on CPUs with AMX, slower on AVX512-BF16 without it: the
        Performance guide).
    fold : bool
        Fold BatchNormalization into the convolutions (same result to float32
        rounding, fewer operations).
    subpixel : bool
        For keepsize, run the fast function of :mod:`enhance_lib.nets.fast`
        (sub-pixel tail, padding-free interior tiles; same result, fewer
        operations). Implies ``fold``.
    device : {'auto', 'cpu', 'gpu'}
        Where to compute; ``auto`` takes a GPU when the backend sees one.
    """

    def __init__(self, net, config, *, tile=None, precision="float32", fold=True, subpixel=True, device="auto"):

        if precision not in PRECISIONS:
            raise EnhanceError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
        self.device = resolve_device(device)
        if tile is None:
            tile = default_tile(self.device)
        self.margin = receptive_margin(config)
        self.align = 2 if config.model == "encdec" else 1
        self.min_size = minimum_size(config)
        if tile < 0:
            raise EnhanceError(f"tile size must be >= 0 (got {tile})")
        if 0 < tile < max(self.min_size, 2 * self.align):
            raise EnhanceError(f"tile size {tile} is too small (minimum {max(self.min_size, 2 * self.align)})")
        self.tile = tile
        self.config = config
        self.precision = precision
        self._interior = None
        with device_scope(self.device):
            if fold or subpixel or precision != "float32":
                net = _inference_network(net, config, precision)
            if subpixel and config.model == "keepsize":
                function = KeepsizeFunction(net, config)
                options = dict(dtype=precision, device=self.device)
                self._call = compile_function(
                    lambda ops, p, x: function(ops, p, x, padded=True), function.params, **options
                )
                self._interior = compile_function(
                    lambda ops, p, x: function(ops, p, x, padded=False), function.params, **options
                )
            else:
                self._call = compile_model(net)
        self.net = net

    def _tiles(self, ny, nx, skip):
        """Tile cores: a grid, or per band of rows only the span that is needed.

        With a mask of skipped (off-limb) pixels, each band of rows is tiled only
        across the columns it needs, so a full disk costs little more than its
        area; tile positions never change the result (each tile sees its margin).
        """
        if skip is None:
            rows = tile_grid(ny, self.tile, align=self.align)
            cols = tile_grid(nx, self.tile, align=self.align)
            return [(r, c) for r in rows for c in cols]
        # Flat tiles of the same area (half the height, twice the width) follow the
        # round limb more closely: ~4 % fewer pixels computed on a full disk.
        height = self.tile // 2 if self.tile else 0
        if height and height < 2 * self.align:
            height = 2 * self.align
        tiles = []
        for y0, y1 in tile_grid(ny, height, align=self.align):
            needed = ~skip[y0:y1].all(axis=0)
            tiles.extend(((y0, y1), c) for c in _span_tiles(needed, 2 * self.tile or nx, self.align))
        return tiles

    def run(self, image, *, skip=None, progress=False):
        """Enhance one normalised, finite 2-D image.

        Parameters
        ----------
        image : numpy.ndarray, shape (ny, nx)
            Finite values (NaNs must have been filled by the caller).
        skip : numpy.ndarray of bool, shape (ny, nx), optional
            Pixels whose output is not needed (e.g. off-limb). Tiles whose core
            is entirely skipped are not computed; their output is NaN.
        progress : bool
            Show the progress over the tiles when there is more than one
            (:func:`~enhance_lib.run.progress.tile_progress`: a bar on a terminal, lines in a log).

        Returns
        -------
        numpy.ndarray, shape (2ny, 2nx), float32
        """
        image = np.asarray(image, dtype=np.float32)
        if image.ndim != 2:
            raise ValueError("Predictor.run takes a 2-D image")
        ny, nx = image.shape
        if min(ny, nx) < self.min_size:
            raise EnhanceError(
                f"image is {ny} x {nx} pixels; the {self.config.model} network needs at least "
                f"{self.min_size} x {self.min_size}"
            )
        out = np.full((SCALE * ny, SCALE * nx), np.nan, dtype=np.float32)
        tiles = self._tiles(ny, nx, skip)
        m = self.margin
        with tile_progress(len(tiles), enabled=progress and len(tiles) >= 2) as bar, device_scope(self.device):
            for (y0, y1), (x0, x1) in tiles:
                ey0, ey1 = max(0, y0 - m), min(ny, y1 + m)
                ex0, ex1 = max(0, x0 - m), min(nx, x1 + m)
                if self.align == 2:  # keep the stride-2 grid phase of the whole image
                    ey0 -= ey0 % 2
                    ex0 -= ex0 % 2
                block = image[ey0:ey1, ex0:ex1]
                inside = (ey0, ey1, ex0, ex1) == (y0 - m, y1 + m, x0 - m, x1 + m)
                if inside and self._interior is not None:
                    # The margin is all real pixels: no padding needed, output is the core.
                    out[SCALE * y0 : SCALE * y1, SCALE * x0 : SCALE * x1] = self._interior(block)
                else:
                    result = self._call(block)
                    oy, ox = SCALE * (y0 - ey0), SCALE * (x0 - ex0)
                    out[SCALE * y0 : SCALE * y1, SCALE * x0 : SCALE * x1] = result[
                        oy : oy + SCALE * (y1 - y0), ox : ox + SCALE * (x1 - x0)
                    ]
                bar.update()
        return out


def _span_tiles(needed, tile, align):
    """Tiles over the span of needed columns of a band (the band's chord of a disk)."""
    columns = np.flatnonzero(needed)
    if columns.size == 0:
        return []
    first = columns[0] - columns[0] % align
    last = columns[-1] + 1
    return [(first + a, first + b) for a, b in tile_grid(last - first, tile, align=align)]


def enhance_array(image, predictor, normalizer, *, progress=False, response=None, limb=True):
    """Normalise, fill NaNs, predict tile by tile, de-normalise, restore NaNs.

    When the normaliser knows the solar disk (``normalizer.geometry``) and the limb
    comes within the network's receptive margin of the image, the limb is treated
    as in :mod:`enhance_lib.sun.limb`: limb pixels divided by their level (their coverage
    of the disk; for a limb blurred by the PSF, the blurred level of the blur estimated
    from the image), the disk continued past the limb for the network, and the x2 grid's
    level applied to the output (no dark-and-bright rim; a pixel-sharp limb comes out
    twice as sharp, a blurred one keeps its blur). Outputs more
    than the receptive margin plus one pixel inside the limb are unchanged by it.

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        One plane in physical units; NaN marks missing (e.g. off-limb) pixels.
    predictor : Predictor
    normalizer : enhance_lib.sun.normalization.Normalizer
        Built for this plane.
    progress : bool
    response : enhance_lib.sun.photometry.FlatResponse, optional
        The network's response to uniform inputs: given, it is inverted on the output
        and the output's large scales matched to the input's (flux conservation,
        :mod:`enhance_lib.sun.photometry`); None keeps the network's output as it is.
    limb : bool
        Treat the limb when the disk is known (False: the plain pipeline, the
        limb pixels and the off-limb fill as they are).

    Returns
    -------
    numpy.ndarray, shape (2ny, 2nx), float32
        In the input's units; NaN at the 2x2 output pixels of each NaN input pixel;
        with the limb treated, 0 at output pixels wholly off the disk whose input
        pixel was finite.
    """
    image = np.asarray(image, dtype=np.float32)
    bad = ~np.isfinite(image)
    if bad.all():
        raise EnhanceError("image has no finite pixels")
    scaled = np.asarray(normalizer.normalize(image), dtype=np.float32)
    bad |= ~np.isfinite(scaled)
    # Missing pixels get the typical (median) level, not 0 as the original did:
    # a jump to 0 at the limb rings into the finite pixels next to it.
    fill = np.float32(np.median(scaled[~bad]))
    geometry = getattr(normalizer, "geometry", None) if limb else None
    if geometry is not None and near_limb(image.shape, geometry, predictor.margin + 2):
        network_input, skip, correction = limb_input(
            image, scaled, bad, normalizer, geometry, fill=fill, margin=predictor.margin
        )
        out = predictor.run(network_input, skip=skip if skip.any() else None, progress=progress)
        if response is not None:
            out = response.invert(out)
        out = limb_output(out, normalizer, geometry, correction=correction, factor=SCALE)
    else:
        scaled = np.where(bad, fill, scaled)
        out = predictor.run(scaled, skip=bad if bad.any() else None, progress=progress)
        if response is not None:
            out = response.invert(out)
        out = np.asarray(normalizer.denormalize(out), dtype=np.float32)
    if response is not None:

        up = np.repeat(np.repeat(bad, SCALE, axis=0), SCALE, axis=1)
        out = match_large_scales(np.where(bad, np.nan, image), np.where(up, np.nan, out), kind=normalizer.kind)
    if bad.any():
        out[np.kron(bad, np.ones((SCALE, SCALE), dtype=bool))] = np.nan
    return out
