"""The forward check: an enhanced image put back through HMI and compared with its input.

Enhance's output is an estimate of the Sun as a 28 cm telescope would see it on a pixel
half HMI's. Sent back through the model of HMI the networks were trained to invert (its PSF,
then its pixels), it should give the observed image again, to within the noise: the
consistency check of Díaz Baso & Asensio Ramos (2018, Sect. 4-5). Every output records the
result (``ENHFWD``, percent), and a network's weights record the level it reaches on data
like its training data (:func:`domain_level`), so that an input unlike them (an image that
was already deconvolved, binned, or from another instrument) is reported.
"""

import dataclasses
import functools
import json
import logging

import numpy as np

from ..errors import warn_domain
from ..nets.config import HMI_SCALE

log = logging.getLogger(__name__)

__all__ = [
    "DOMAIN_ATTR",
    "DOMAIN_FACTOR",
    "MIN_WEIGHT",
    "DomainLevel",
    "ForwardCheck",
    "forward_check",
    "forward_to_input",
    "pooled_percent",
]

#: Input pixels compared: those whose PSF-weighted footprint on the output is at least this
#: finite (the rest are next to missing data or off the disk, where the output says nothing).
MIN_WEIGHT = 0.9
#: An image whose forward residual exceeds the network's in-domain level by this factor is
#: reported as unlike the training data. The in-domain level is the largest residual over
#: the in-domain sets (real crops, synthetic scenes, full disks); binning x2 raises the
#: residual ~1.5x, an already-deconvolved image ~10x (``benchmarks/forward.py``).
DOMAIN_FACTOR = 1.3
#: The weights file's root attribute that holds the in-domain level (JSON).
DOMAIN_ATTR = "enhance_forward_level"


@functools.lru_cache(maxsize=4)
def _kernel(factor):
    """The HMI PSF on the output's pixels convolved with the x``factor`` box of HMI's
    pixels: one kernel that takes the output to the input's grid (sampled at the right
    phase)."""
    # scipy.signal and the forward model (which imports it) only when a check runs: importing the
    # programs stays light, and scipy.signal fails to import where a test hides torch
    from scipy import signal

    from ..instrument.psf import hmi_psf

    psf = hmi_psf(pixel_scale=HMI_SCALE / factor, variant="enhance", extent=4.4)
    box = np.full((factor, factor), 1.0 / factor**2)
    return signal.convolve2d(psf, box).astype(np.float32)


def forward_to_input(enhanced, *, factor=2):
    """The HMI forward model of an enhanced image: its PSF, then its pixels.

    Parameters
    ----------
    enhanced : numpy.ndarray, shape (factor*ny, factor*nx)
        NaN where missing (off the disk, or the 2x2 pixels of a NaN input pixel).
    factor : int
        The output's sampling over the input's.

    Returns
    -------
    forward : numpy.ndarray of float32, shape (ny, nx)
        The output convolved with HMI's PSF (:func:`~enhance_lib.instrument.psf.hmi_psf`,
        tabulated on the output's pixels; the ``'enhance'`` variant, the one the networks were
        trained with) and averaged over each input pixel. The network treats every input as
        HMI's pixels, whatever its header says, so the PSF is HMI's at HMI's scale. Missing
        output pixels are left out of each PSF-weighted mean (normalised convolution); beyond
        the image's edges the output is mirrored, as the training data were.
    weight : numpy.ndarray of float32, shape (ny, nx)
        The PSF-weighted share of finite output pixels under each input pixel (1 inside a
        complete image).

    See Also
    --------
    forward_check : The comparison with the input.
    enhance_lib.instrument.forward_model.to_hmi : The same forward model for any pixel scales.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sects. 3-5: the HMI PSF used to make the training inputs, and the
    enhanced image convolved with it as a consistency check.

    Knutsson, H., & Westin, C.-F. 1993, Proc. IEEE CVPR, 515, "Normalized and differential
    convolution": the convolution of data with missing samples.
    """
    enhanced = np.asarray(enhanced, dtype=np.float32)
    kernel = _kernel(factor)
    forward, weight = _decimated_convolution(enhanced, kernel, factor)
    if weight is None:
        weight = np.ones_like(forward)
    else:  # in place: forward is this function's own array
        usable = weight > 1e-3
        np.divide(forward, weight, out=forward, where=usable)
        forward[~usable] = np.nan
    return forward.astype(np.float32, copy=False), weight


def _decimated_convolution(image, kernel, factor):
    """Each input pixel's mean of the PSF-blurred image, missing pixels as 0, and of its mask
    of finite pixels: ``kernel`` (the PSF convolved with the ``factor`` box) applied at every
    ``factor``-th fine pixel, edges mirrored.

    Returns
    -------
    forward, weight : numpy.ndarray of float32, shape (ny, nx)
        ``weight`` is None when every pixel of ``image`` is finite.
    """
    # With a PSF of odd size p (half width c), input pixel i is the kernel over fine pixels
    # factor*i - c ... factor*i + factor - 1 + c: a mirrored pad of c on each side, and the
    # 'valid' convolution sampled from its first pixel on.
    import scipy.fft
    from scipy import signal
    from scipy.signal._signaltools import _calc_oa_lens

    c = (kernel.shape[0] - factor) // 2
    shape = (image.shape[0] + 2 * c, image.shape[1] + 2 * c)
    lens = [_calc_oa_lens(n, k) for n, k in zip(shape, kernel.shape, strict=True)]
    complete = all(bool(np.isfinite(image[i : i + 1024]).all()) for i in range(0, image.shape[0], 1024))
    if lens[0][1] is not None:
        return _banded_convolution(image, kernel, factor, lens, weight=not complete)
    # as small as one of oaconvolve's blocks: the whole image at once
    finite = np.isfinite(image)
    parts = [image if complete else np.where(finite, image, np.float32(0))]
    if not complete:
        parts.append(finite.astype(np.float32))
    results = []
    for part in parts:
        padded = np.pad(part, c, mode="symmetric")
        with scipy.fft.set_workers(-1):
            full = signal.oaconvolve(padded, kernel, mode="valid")
        ny, nx = image.shape[0] // factor, image.shape[1] // factor
        results.append(full[::factor, ::factor][:ny, :nx])
    return results[0], (results[1] if not complete else None)


def _symmetric(index, n):
    """The source of each padded position in ``np.pad(..., mode='symmetric')`` (edge repeated)."""
    index = np.where(index < 0, -index - 1, index) % (2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


def _oa_blocks(shape, kernel_shape, lens):
    """oaconvolve's block sizes, overlaps, steps and block counts along each axis of the padded
    image (``lens``: its ``_calc_oa_lens``)."""
    blocks, overlaps, steps, counts = [], [], [], []
    for n, k, (block, overlap, step, _) in zip(shape, kernel_shape, lens, strict=True):
        count = 1
        if overlap is not None:  # oaconvolve's number of blocks
            count = -(-(n + 1) // step)
            if (block - overlap) * count < n + k - 1:
                count += 1
        blocks.append(block)
        overlaps.append(overlap)
        steps.append(step)
        counts.append(count)
    return blocks, overlaps, steps, counts


def _mirrored_band(values, image, start, stop, *, c, width, sources):
    """Rows ``start:stop`` of ``image`` padded by ``c`` mirrored pixels on every side, written into
    the band buffer ``values`` (its rows beyond them set to 0); ``width`` the padded width,
    ``sources`` the padded columns' source columns."""
    n = max(stop - start, 0)
    values[n:] = 0
    if not n:
        return
    mirrored = _symmetric(np.arange(start, stop) - c, image.shape[0])
    if np.all(np.diff(mirrored) == 1):  # inside the image: a slice, not a copy
        mirrored = slice(mirrored[0], mirrored[-1] + 1)
    source = image[mirrored]
    if 0 < c < image.shape[1]:  # the mirrored columns, as slices
        values[:n, c : c + image.shape[1]] = source
        values[:n, :c] = source[:, c - 1 :: -1]
        values[:n, c + image.shape[1] : width] = source[:, : image.shape[1] - c - 1 : -1]
    else:
        values[:n, :width] = source[:, sources]


def _banded_convolution(image, kernel, factor, lens, *, weight):
    """:func:`_decimated_convolution` of an image larger than oaconvolve's blocks, one band of
    them at a time: the same numbers as ``scipy.signal.oaconvolve`` on the whole padded image.

    oaconvolve's overlap-add on the whole image (a 4096^2 disk's x2 output: 1.4 GB of
    spectra and blocks, twice, with the padded copies beside them) is done here band by
    band of its blocks, each band's mirrored rows made from ``image`` as needed, with its
    block sizes (``lens``, from its ``_calc_oa_lens``), FFTs, products and additions in its
    order, so that every sum is the same to the bit; only the sampled pixels are kept. A
    block of constant data (0 off the disk, 1 in the mask inside it) has the same convolution
    everywhere, computed once.
    """
    import scipy.fft

    c = (kernel.shape[0] - factor) // 2
    shape = (image.shape[0] + 2 * c, image.shape[1] + 2 * c)
    ny, nx = image.shape[0] // factor, image.shape[1] // factor
    blocks, overlaps, steps, counts = _oa_blocks(shape, kernel.shape, lens)
    spectrum = scipy.fft.rfftn(kernel.reshape(1, kernel.shape[0], 1, kernel.shape[1]), blocks, axes=[1, 3])

    def convolve(data):
        with scipy.fft.set_workers(-1):
            product = scipy.fft.rfftn(data, blocks, axes=[1, 3])
            product *= spectrum  # in place: the same products, one array fewer
            return scipy.fft.irfftn(product, blocks, axes=[1, 3], overwrite_x=True)

    constants = {value: convolve(np.full((1, steps[0], 1, steps[1]), value, np.float32)) for value in (0.0, 1.0)}
    # the sampled pixels of the 'valid' convolution, in the 'full' one's coordinates
    rows = (np.arange(0, shape[0] - kernel.shape[0] + 1, factor) + kernel.shape[0] - 1)[:ny]
    cols = (np.arange(0, shape[1] - kernel.shape[1] + 1, factor) + kernel.shape[1] - 1)[:nx]
    sources = _symmetric(np.arange(shape[1]) - c, image.shape[1])
    width = counts[1] * steps[1]
    outputs = [np.empty((ny, nx), np.float32) for _ in range(2 if weight else 1)]
    tails = [None] * len(outputs)
    # one band's buffers, reused: oaconvolve's zero padding beyond the image stays 0
    values = np.zeros((steps[0], width), np.float32)
    finite = np.empty(values.shape, bool)
    mask = np.empty(values.shape, np.float32)
    results = [np.empty((1, blocks[0], counts[1], blocks[1]), np.float32) for _ in outputs]
    for band in range(counts[0]):
        start = band * steps[0]
        if start > rows[-1]:
            break
        stop = min(start + steps[0], shape[0])
        n = max(stop - start, 0)
        _mirrored_band(values, image, start, stop, c=c, width=shape[1], sources=sources)
        np.isfinite(values, out=finite)
        np.copyto(values, 0, where=~finite)
        parts = [values]
        if weight:
            finite[n:] = False
            finite[:, shape[1] :] = False
            mask[...] = finite
            parts.append(mask)
        wanted = np.flatnonzero((rows >= start) & (rows < start + steps[0]))
        for p, part in enumerate(parts):
            part = part.reshape(1, steps[0], counts[1], steps[1])
            low, high = part.min(axis=(1, 3))[0], part.max(axis=(1, 3))[0]
            result = results[p]
            todo = np.ones(counts[1], bool)
            for value, convolved in constants.items():
                same = (low == value) & (high == value)
                result[:, :, same] = convolved
                todo &= ~same
            if todo.all():
                result[...] = convolve(part)
            elif todo.any():
                result[:, :, todo] = convolve(part[:, :, todo])
            # the overlap-add, as oaconvolve's: along the rows (the band above's tail), then the columns
            if tails[p] is not None:
                result[0, : overlaps[0]] += tails[p]
            tails[p] = result[0, steps[0] :].copy()
            result = result[:, : steps[0]]
            if overlaps[1] is not None:
                result[:, :, 1:, : overlaps[1]] += result[:, :, :-1, steps[1] :]
                result = result[..., : steps[1]]
            if wanted.size:
                # the wanted rows and columns are every factor-th from the first: slices of the band
                first = rows[wanted[0]] - start
                band_rows = result[0, first : first + factor * wanted.size : factor]
                band_rows = band_rows.reshape(wanted.size, -1)
                outputs[p][wanted[0] : wanted[-1] + 1] = band_rows[:, cols[0] : cols[0] + factor * nx : factor]
    return outputs[0], (outputs[1] if weight else None)


@dataclasses.dataclass(frozen=True)
class ForwardCheck:
    """The forward check of one image.

    Attributes
    ----------
    percent : float
        ``100 * RMS(forward - input) / RMS(input)`` over the compared pixels (NaN when none):
        the header's ``ENHFWD``.
    pixels : int
        Input pixels compared: finite, with at least :data:`MIN_WEIGHT` of their PSF footprint
        on finite output.
    residual : numpy.ndarray or None
        ``forward - input`` on the input's grid, in the input's units, NaN where not compared
        (when asked for).
    """

    percent: float
    pixels: int
    residual: np.ndarray | None = None


def forward_check(image, enhanced, *, residual=False, factor=2, region=None):
    """Put an enhanced image back through HMI (:func:`forward_to_input`) and compare it with
    the input.

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        The input, in its units (NaN where missing).
    enhanced : numpy.ndarray, shape (factor*ny, factor*nx)
        Its enhanced version, in the same units.
    residual : bool
        Also return the residual image.
    factor : int
        The output's sampling over the input's.
    region : tuple of slice, optional
        Compare only these input pixels (a validation region away from a crop's edges, say).

    Returns
    -------
    ForwardCheck

    See Also
    --------
    pooled_percent : Many images as one.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sects. 4-5: the enhanced magnetogram convolved with the HMI PSF
    differs from the observed one by ~4 %.
    """
    difference, compared = _compared(image, enhanced, factor=factor, region=region)
    pixels = int(compared.sum())
    if pixels:
        scale = np.sqrt(np.mean(np.square(np.asarray(image, np.float32)[compared], dtype=np.float64)))
        misfit = np.sqrt(np.mean(np.square(difference[compared], dtype=np.float64)))
        percent = float(100 * misfit / scale) if scale > 0 else float("nan")
    else:
        percent = float("nan")
    if not residual:
        return ForwardCheck(percent, pixels)
    difference[~compared] = np.nan
    return ForwardCheck(percent, pixels, difference)


def _compared(image, enhanced, *, factor, region=None):
    """``forward - image`` on the input's grid and the pixels a forward check compares: finite
    in both, with at least :data:`MIN_WEIGHT` of their PSF footprint on finite output, and
    inside ``region`` (input-grid slices) when given."""
    image = np.asarray(image, dtype=np.float32)
    forward, weight = forward_to_input(enhanced, factor=factor)
    compared = np.isfinite(image) & np.isfinite(forward) & (weight >= MIN_WEIGHT)
    if region is not None:
        inside = np.zeros_like(compared)
        inside[region] = True
        compared &= inside
    return forward - image, compared


@dataclasses.dataclass(frozen=True)
class DomainLevel:
    """The forward residual a network reaches on data like its training data, stored with its
    weights (root attribute :data:`DOMAIN_ATTR`).

    Attributes
    ----------
    percent : float
        The in-domain level (``ENHFWD``, percent): the largest over ``measured_on``.
    measured_on : str
        What it was measured on (for the HISTORY and the warning).
    factor : float
        An image above ``factor * percent`` is reported as unlike the training data.
    """

    percent: float
    measured_on: str
    factor: float = DOMAIN_FACTOR

    @property
    def limit(self):
        """The residual above which an image is reported (percent)."""
        return self.factor * self.percent

    def to_attr(self):
        """The JSON text stored in the weights file."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_attrs(cls, attrs):
        """The level a weights file's decoded root attributes record, or None (an original
        Enhance file, or one trained before levels were recorded)."""
        value = attrs.get(DOMAIN_ATTR)
        if not isinstance(value, dict) or "percent" not in value:
            return None
        return cls(float(value["percent"]), str(value.get("measured_on", "")),
                   float(value.get("factor", DOMAIN_FACTOR)))

    def check(self, percent, *, source):
        """Warn (one line) when ``percent`` exceeds the limit; True when it does."""
        if not np.isfinite(percent) or percent <= self.limit:
            return False
        warn_domain(f"{source}: forward check {percent:.1f} % is {percent / self.percent:.1f}x the network's "
                  f"in-domain level ({self.percent:.2g} %, above {self.factor:g}x is reported): the input is "
                  "unlike the HMI data the network learnt from (already deconvolved or sharpened? not HMI? "
                  "binned or at another pixel scale?), so its output should not be trusted")
        return True


def pooled_percent(pairs, *, border=0, factor=2):
    """The forward check of many images as one: ``100 * sqrt(sum residual^2 / sum input^2)``
    over all their compared pixels (as if they were one image).

    Parameters
    ----------
    pairs : iterable of (numpy.ndarray, numpy.ndarray)
        ``(input, enhanced)`` pairs.
    border : int
        Input pixels left out at each edge (patches: where the network saw its padding).
    factor : int

    Returns
    -------
    float
        Percent; NaN when no pixel was compared.
    """
    misfit = scale = 0.0
    for image, enhanced in pairs:
        image = np.asarray(image, dtype=np.float32)
        inside = (slice(border, image.shape[0] - border), slice(border, image.shape[1] - border))
        difference, compared = _compared(image, enhanced, factor=factor, region=inside)
        misfit += float(np.sum(np.square(difference[compared], dtype=np.float64)))
        scale += float(np.sum(np.square(image[compared], dtype=np.float64)))
    return float(100 * np.sqrt(misfit / scale)) if scale > 0 else float("nan")
