"""Figures: input and enhanced output side by side (``enhance --plot``)."""

import numpy as np

from .atomic import atomic_path
from .errors import EnhanceError

__all__ = ["north_up", "plot_comparison", "quiet_sun_mask", "rms_contrast", "shape_text", "zoom_region"]

ZOOM_ABOVE = 1024  # input pixels: larger images get a zoomed pair of panels
ZOOM_SIZE = 128  # input pixels of the zoomed region


def shape_text(shape):
    """A 2-D shape as the log writes it: ``'400 x 280 (rows x columns)'``."""
    return f"{' x '.join(str(n) for n in shape)} (rows x columns)"


def quiet_sun_mask(local):
    """Quiet-Sun pixels of an intensity normalised to its local quiet-Sun level (I/I_qs):
    within 10 % of 1, which holds granulation and leaves out spots, pores and faculae."""
    local = np.asarray(local, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(local) & (np.abs(local - 1) < 0.1)


def rms_contrast(image, *, kind, mask=None):
    """Contrast figure for a title.

    Intensity: sigma / mean (per cent) over ``mask`` (quiet Sun; all finite pixels
    when None). Magnetograms have a mean near zero, so their figure is the RMS field
    in the image's units.
    """
    values = np.asarray(image, dtype=np.float64)
    keep = np.isfinite(values) if mask is None else np.isfinite(values) & mask
    values = values[keep]
    if values.size == 0:
        return "no pixels to measure"
    if kind == "intensity":
        where = "quiet-Sun " if mask is not None else ""
        return f"{where}contrast {100 * values.std() / values.mean():.2f} %"
    return f"RMS {np.sqrt(np.mean(values**2)):.1f}"


def north_up(header):
    """True when the image is stored with solar north down (HMI's CROTA2 ~ 180): the
    figure then turns it by 180 degrees."""
    if header is None:
        return False
    crota = header.get("CROTA2")
    if crota is None and "PC1_1" in header and "PC2_2" in header:
        # a rotation matrix: cos(rho) on the diagonal
        try:
            return float(header["PC1_1"]) < -0.7 and float(header["PC2_2"]) < -0.7
        except (TypeError, ValueError):
            return False
    try:
        angle = float(crota) % 360
    except (TypeError, ValueError):
        return False
    return 135 <= angle <= 225


def zoom_region(image, *, kind, size=ZOOM_SIZE):
    """(row, column) slices of a ``size`` x ``size`` block centred, as far as the image
    allows, on its most telling pixel: the darkest (intensity: a sunspot) or strongest
    field (blos), among those whose block holds no NaN (off-limb)."""
    values = np.asarray(image, dtype=np.float64)
    ny, nx = values.shape
    size = min(size, ny, nx)
    score = -values if kind == "intensity" else np.abs(values)
    score = np.where(np.isfinite(score), score, -np.inf)
    order = np.argsort(score, axis=None)[::-1]
    for index in order[:200]:
        y, x = np.unravel_index(index, values.shape)
        y0 = int(np.clip(y - size // 2, 0, ny - size))
        x0 = int(np.clip(x - size // 2, 0, nx - size))
        block = (slice(y0, y0 + size), slice(x0, x0 + size))
        if np.isfinite(values[block]).all():
            return block
    y0, x0 = (ny - size) // 2, (nx - size) // 2  # nothing telling on a finite block: the centre
    return slice(y0, y0 + size), slice(x0, x0 + size)


def plot_comparison(path, original, enhanced, *, kind, title=None, header=None, local=None, local_enhanced=None):
    """Write a PNG with the input and the output on the same colour scale.

    Parameters
    ----------
    path : str
        PNG file (written atomically).
    original, enhanced : numpy.ndarray
        2-D input and x2 output (first plane of a cube).
    kind : {'intensity', 'blos'}
    title : str, optional
        Figure title (e.g. the input file name).
    header : astropy.io.fits.Header, optional
        The input's: its BUNIT labels the colour bar, its CROTA2 (or PC matrix) turns
        an image stored south up (HMI: CROTA2 ~ 180) so that solar north is up.
    local, local_enhanced : numpy.ndarray, optional
        The input and the output divided by their local quiet-Sun level (I/I_qs; the
        limb-darkening profile on a full disk): the intensity contrast is measured on
        them, over the input's quiet Sun, so that limb darkening does not count as
        contrast; the zoomed region is chosen on them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = original[np.isfinite(original)]
    if kind == "blos":
        vmax = np.percentile(np.abs(finite), 99.5)
        vmin, cmap = -vmax, "gray"
    else:
        vmin, vmax = np.percentile(finite, [0.5, 99.5])
        cmap = "gray"
    masks = (None, None)
    measured = (original, enhanced)
    if kind == "intensity" and local is not None and local_enhanced is not None:
        quiet = quiet_sun_mask(local)
        masks = (quiet, np.repeat(np.repeat(quiet, 2, axis=0), 2, axis=1))
        measured = (local, local_enhanced)
    turned = north_up(header)
    if turned:
        original, enhanced = np.rot90(original, 2), np.rot90(enhanced, 2)
        masks = tuple(None if m is None else np.rot90(m, 2) for m in masks)
        measured = tuple(np.rot90(m, 2) for m in measured)
    ny, nx = original.shape
    zoom = zoom_region(measured[0], kind=kind) if max(ny, nx) > ZOOM_ABOVE else None
    rows = 2 if zoom is not None else 1
    fig, axes = plt.subplots(rows, 2, figsize=(11, rows * (5.5 * ny / max(nx, 1)) + 0.8), constrained_layout=True,
                             squeeze=False)
    panels = ((original, "input", measured[0], masks[0]), (enhanced, "Enhance x2", measured[1], masks[1]))
    for ax, (img, name, values, mask) in zip(axes[0], panels, strict=True):
        im = ax.imshow(img, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{name}: {shape_text(img.shape)}\n{rms_contrast(values, kind=kind, mask=mask)}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if zoom is not None:
        rows_, cols_ = zoom
        axes[0, 0].add_patch(plt.Rectangle((cols_.start, rows_.start), cols_.stop - cols_.start,
                                           rows_.stop - rows_.start, fill=False, color="tab:orange", lw=1))
        up = (slice(2 * rows_.start, 2 * rows_.stop), slice(2 * cols_.start, 2 * cols_.stop))
        # the region in the input array's own (0-based) rows and columns, also when turned
        r0, r1, c0, c1 = rows_.start, rows_.stop, cols_.start, cols_.stop
        if turned:
            r0, r1, c0, c1 = ny - r1, ny - r0, nx - c1, nx - c0
        for ax, img, name in ((axes[1, 0], original[zoom], "input"), (axes[1, 1], enhanced[up], "Enhance x2")):
            ax.imshow(img, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(f"{name}, zoomed: rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1} of the input", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8, label=_unit_label(header, kind))
    notes = [title] if title else []
    if turned:
        notes.append(f"turned 180 degrees (CROTA2 = {header.get('CROTA2', 'PC matrix')}): solar north up")
    if notes:
        fig.suptitle("\n".join(str(n) for n in notes))
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    except OSError as exc:
        raise EnhanceError(f"cannot write the figure ({exc.strerror or exc})", path=path) from None
    finally:
        plt.close(fig)


def _unit_label(header, kind):
    """The colour bar's label: the data's BUNIT as the header gives it."""
    bunit = None if header is None else header.get("BUNIT")
    if isinstance(bunit, str) and bunit.strip():
        return bunit.strip()
    if isinstance(bunit, str):
        return "dimensionless"
    return "data units (no BUNIT)" if kind == "intensity" else "B_los (no BUNIT)"
