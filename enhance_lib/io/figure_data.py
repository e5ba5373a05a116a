"""What the ``--plot`` figure shows, measured on the full-resolution data: the quiet Sun, the
RMS contrast, NaN-aware block averages for the panels and the zoomed region.

Every measurement runs in blocks of rows (about :data:`CHUNK` pixels), so a 4096^2 full disk
costs little memory beyond its data (:mod:`enhance_lib.io.figures` draws them).
"""

import math

import numpy as np

__all__ = ["CHUNK", "ZOOM_SIZE", "block_mean", "quiet_sun_mask", "rms_contrast", "shape_text", "zoom_region"]

#: Input pixels of the zoomed region (fewer when the zoom panel is smaller).
ZOOM_SIZE = 128
#: Pixels per block of rows when an image is measured or averaged.
CHUNK = 1 << 22


def shape_text(shape):
    """A 2-D shape as the log writes it: ``'400 x 280 (rows x columns)'``."""
    return f"{' x '.join(str(n) for n in shape)} (rows x columns)"


def quiet_sun_mask(local):
    """Quiet-Sun pixels of an intensity normalised to its local quiet-Sun level (I/I_qs):
    within 10 % of 1, which holds granulation and leaves out spots, pores and faculae."""
    local = np.asarray(local)
    with np.errstate(invalid="ignore"):
        return np.isfinite(local) & (np.abs(local - 1) < 0.1)


def _row_blocks(n_rows, row_length, step=1):
    """(start, stop) of blocks of rows, a multiple of ``step`` long, of about CHUNK pixels."""
    rows = max(step, CHUNK // max(row_length, 1) // step * step)
    for start in range(0, n_rows, rows):
        yield start, min(start + rows, n_rows)


def _values(image, mask):
    """Generator of the finite (and masked) pixels of ``image``, float64, a block of rows at a time.

    ``mask`` has the image's shape, or is ``k`` times coarser (each of its pixels covers
    k x k of the image: the input's mask on the x2 output).
    """
    ny, nx = image.shape
    k = 1 if mask is None else ny // mask.shape[0]
    if mask is not None and (mask.shape[0] * k, mask.shape[1] * k) != image.shape:
        raise ValueError(f"mask shape {mask.shape} does not tile the image shape {image.shape}")
    for start, stop in _row_blocks(ny, nx, k):
        block = np.asarray(image[start:stop], dtype=np.float64)
        keep = np.isfinite(block)
        if mask is not None:
            part = mask[start // k:stop // k]
            keep &= np.repeat(np.repeat(part, k, axis=0), k, axis=1) if k > 1 else part
        yield block[keep]


def rms_contrast(image, *, kind, mask=None, unit=None):
    """Contrast figure for a title.

    Intensity: sigma / mean (per cent) over ``mask`` (quiet Sun; all finite pixels
    when None). Magnetograms have a mean near zero, so their figure is the RMS field,
    followed by ``unit`` (the image's, e.g. ``'G'``; ``'data units'`` when None).
    Measured in float64 a block of rows at a time: no full-size copy.

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
    kind : {'intensity', 'blos'}
    mask : numpy.ndarray of bool, optional
        The image's shape, or ``k`` times coarser in both axes (the input's mask
        applied to its x``k`` output: each mask pixel covers k x k image pixels).
    unit : str, optional

    Returns
    -------
    str
    """
    image = np.asarray(image)
    mask = None if mask is None else np.asarray(mask, dtype=bool)
    count = total = 0.0
    for values in _values(image, mask):
        count += values.size
        total += values.sum() if kind == "intensity" else np.dot(values, values)
    if count == 0:
        return "no pixels to measure"
    if kind != "intensity":
        return f"RMS {math.sqrt(total / count):.1f} {unit or 'data units'}"
    mean = total / count
    deviation = sum(float(np.dot(v - mean, v - mean)) for v in _values(image, mask))
    where = "quiet-Sun " if mask is not None else ""
    return f"{where}contrast {100 * math.sqrt(deviation / count) / mean:.2f} %"


def block_mean(image, factor):
    """The NaN-aware block average of an image: a new, smaller float32 array.

    Each output pixel is the mean of the finite pixels of a ``factor`` x ``factor`` block
    (the blocks of the last rows and columns may be cut by the image's edge); NaN where
    a block holds none. Computed a block of rows at a time: memory beyond the result
    stays small for any image size.

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        Not modified.
    factor : int
        Block size (1: a float32 copy).

    Returns
    -------
    numpy.ndarray, shape (ceil(ny / factor), ceil(nx / factor))

    Examples
    --------
    >>> block_mean(np.array([[1.0, 3.0, 5.0], [np.nan, 2.0, np.nan]]), 2)
    array([[2., 5.]], dtype=float32)
    """
    image = np.asarray(image)
    factor = int(factor)
    if image.ndim != 2 or factor < 1:
        raise ValueError(f"need a 2-D image and a factor >= 1, got shape {image.shape} and {factor}")
    ny, nx = image.shape
    oy, ox = -(-ny // factor), -(-nx // factor)
    out = np.empty((oy, ox), dtype=np.float32)
    for start, stop in _row_blocks(ny, nx * factor, factor):
        block = np.full((stop - start, ox * factor), np.nan)
        block[:, :nx] = image[start:stop]
        rows = -(-(stop - start) // factor)
        if rows * factor != stop - start:  # the image's last, short block of rows
            block = np.vstack([block, np.full((rows * factor - (stop - start), ox * factor), np.nan)])
        block = block.reshape(rows, factor, ox, factor)
        finite = np.isfinite(block)
        count = finite.sum(axis=(1, 3))
        total = np.where(finite, block, 0.0).sum(axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start // factor:start // factor + rows] = total / count  # 0 / 0: NaN
    return out


def zoom_region(image, *, kind, size=ZOOM_SIZE):
    """(row, column) slices of a ``size`` x ``size`` block centred, as far as the image
    allows, on its most telling pixel: the darkest (intensity: a sunspot) or strongest
    field (blos), among those whose block holds no NaN (off-limb).

    The 200 most telling pixels are found a block of rows at a time (no full-size copy),
    among those whose block is known, from a coarse map of where NaN is, to be finite:
    the darkest pixels of a full disk are often on the limb.
    """
    values = np.asarray(image)
    ny, nx = values.shape
    size = min(size, ny, nx)
    cell, usable = _usable_cells(values, size)
    scores, indices = [], []
    for start, stop in _row_blocks(ny, nx, cell):
        block = np.asarray(values[start:stop], dtype=np.float64)
        score = -block if kind == "intensity" else np.abs(block)
        ok = np.repeat(np.repeat(usable[start // cell:-(-stop // cell)], cell, axis=0), cell, axis=1)
        score = np.where(np.isfinite(score) & ok[:stop - start, :nx], score, -np.inf).ravel()
        keep = min(200, score.size)
        best = np.argpartition(score, score.size - keep)[score.size - keep:]
        scores.append(score[best])
        indices.append(best + start * nx)
    scores, indices = np.concatenate(scores), np.concatenate(indices)
    order = np.argsort(scores, kind="stable")[::-1]
    for index in indices[order[:200]]:
        y, x = np.unravel_index(index, values.shape)
        y0 = int(np.clip(y - size // 2, 0, ny - size))
        x0 = int(np.clip(x - size // 2, 0, nx - size))
        block = (slice(y0, y0 + size), slice(x0, x0 + size))
        if np.isfinite(values[block]).all():
            return block
    y0, x0 = (ny - size) // 2, (nx - size) // 2  # nothing telling on a finite block: the centre
    return slice(y0, y0 + size), slice(x0, x0 + size)


def _usable_cells(values, size):
    """(cell, usable): cells of ``cell`` x ``cell`` pixels (about size / 4) and, for each,
    whether every pixel of a ``size`` block centred in it is away from NaN (a block
    reaching past the image's edge is moved inside it by :func:`zoom_region`, so the
    edge does not count)."""
    ny, nx = values.shape
    cell = max(1, size // 4)
    cy, cx = -(-ny // cell), -(-nx // cell)
    bad = np.zeros((cy, cx), dtype=bool)
    for start, stop in _row_blocks(ny, nx, cell):
        rows = -(-(stop - start) // cell)
        block = np.zeros((rows * cell, cx * cell), dtype=bool)
        block[:stop - start, :nx] = ~np.isfinite(values[start:stop])
        bad[start // cell:start // cell + rows] = block.reshape(rows, cell, cx, cell).any(axis=(1, 3))
    reach = -(-(size // 2 + 1) // cell)  # cells a centred block can touch on each side
    padded = np.pad(bad, reach)
    near = np.zeros_like(bad)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            near |= padded[dy:dy + cy, dx:dx + cx]
    return cell, ~near
