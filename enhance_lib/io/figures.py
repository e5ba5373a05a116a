"""Figures: input and enhanced output side by side (``enhance --plot``).

The figure never draws a full-resolution image: each panel shows a NaN-aware block
average of its image (:func:`block_mean`) with at most one image pixel per screen pixel,
so a 4096^2 full disk costs little memory beyond its data. The numbers in the titles
are measured on the full-resolution data, in row blocks, and a pair of zoomed panels
shows a region at full resolution whenever a whole-image panel cannot.
"""

import math
import os

import numpy as np

from ..errors import EnhanceError
from .atomic import atomic_path, check_output_folder
from .figure_data import CHUNK, ZOOM_SIZE, block_mean, quiet_sun_mask, rms_contrast, shape_text, zoom_region
from .headers import ANGLE_UNITS, is_number

__all__ = ["FIGURE_FORMATS", "check_figure_path", "comparison_figure", "figure_format", "north_up", "plot_comparison"]

#: The figure's file name ending -> the format it is written in.
FIGURE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

DPI = 100  # the saved figure's dots per inch
WIDTH = 11.0  # inches
RESIDUAL_CMAP = "RdBu_r"  # the forward check's residual: diverging, white at zero
UNCERTAINTY_CMAP = "magma"  # the uncertainty: sequential, from 0
_ALIGNED = math.radians(1.0)  # axes in arcsec when the image axes are within 1 degree of the WCS's


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


class _Frame:
    """The figure's axes for an image of ``shape`` (input pixels): helioprojective arcsec
    from the WCS when it gives angular units and image axes along its axes, else pixels.

    Positions are input pixel edges: ``(e, g)`` is the corner below and left of stored
    pixel (row e, column g); the x``f`` output's edge ``E`` is the input's ``E / f``
    (the two grids' edges coincide, :func:`enhance_lib.io.fits.upsample_header`).
    """

    def __init__(self, header, shape, *, turned):
        self.shape, self.turned = shape, turned
        ny, nx = shape
        matrix = _linear_wcs(header)
        if matrix is None:
            # stored column and row (0-based centres), also when the figure is turned
            self.x = (-0.5, 1.0)
            self.y = (-0.5, 1.0)
            self.xlabel, self.ylabel = "column (input pixels)", "row (input pixels)"
            self.unit = "px"
            return
        (sx, sy), reference = matrix
        if reference is None:  # no CRPIX/CRVAL: from the image's centre
            x0, y0, origin = -sx * nx / 2, -sy * ny / 2, ", from the image centre"
        else:
            (crpix1, crpix2), (crval1, crval2) = reference
            # FITS pixel p (1-based centres) is at CRVAL + CDELT * (p - CRPIX); edge g is at p = g + 0.5
            x0, y0, origin = crval1 + sx * (0.5 - crpix1), crval2 + sy * (0.5 - crpix2), ""
        self.x, self.y = (x0, sx), (y0, sy)
        ctype1 = str(header.get("CTYPE1", "") or "")
        ctype2 = str(header.get("CTYPE2", "") or "")
        name_x = "solar x" if ctype1.upper().startswith("HPLN") else "x"
        name_y = "solar y" if ctype2.upper().startswith("HPLT") else "y"
        self.xlabel, self.ylabel = f"{name_x} (arcsec{origin})", f"{name_y} (arcsec{origin})"
        self.unit = "arcsec"

    def extent(self, rows=None, cols=None):
        """imshow's (left, right, bottom, top) for the stored block between row edges
        ``rows`` and column edges ``cols`` (default: the whole image), as the figure
        shows it (turned 180 degrees when ``turned``)."""
        e0, e1 = rows if rows is not None else (0, self.shape[0])
        g0, g1 = cols if cols is not None else (0, self.shape[1])
        left, right = (self.x[0] + self.x[1] * g for g in (g0, g1))
        bottom, top = (self.y[0] + self.y[1] * e for e in (e0, e1))
        return (right, left, top, bottom) if self.turned else (left, right, bottom, top)


def _linear_wcs(header):
    """((arcsec per pixel along columns, along rows), ((CRPIX1, CRPIX2), (CRVAL1, CRVAL2)) or None),
    in the image's own axes, or None: no angular CUNIT, no scale, or image axes more than
    1 degree from the WCS's (a 180 degree rotation counts as aligned: it negates the scales).
    """

    if header is None:
        return None
    units = [ANGLE_UNITS.get(str(header.get(f"CUNIT{i}", "") or "").strip().lower()) for i in (1, 2)]
    if None in units:
        return None
    if any(f"CD{i}_{j}" in header for i in (1, 2) for j in (1, 2)):
        cd = [[header.get(f"CD{i}_{j}", 0.0) for j in (1, 2)] for i in (1, 2)]
        if not all(is_number(v) for row in cd for v in row):
            return None
        m = np.array(cd, dtype=float)
    else:
        cdelt = [header.get(f"CDELT{i}") for i in (1, 2)]
        if not all(is_number(v) for v in cdelt):
            return None
        pc = np.eye(2)
        if any(f"PC{i}_{j}" in header for i in (1, 2) for j in (1, 2)):
            values = [[header.get(f"PC{i}_{j}", float(i == j)) for j in (1, 2)] for i in (1, 2)]
            if not all(is_number(v) for row in values for v in row):
                return None
            pc = np.array(values, dtype=float)
        elif is_number(header.get("CROTA2")):
            rho = math.radians(float(header["CROTA2"]))
            ratio = float(cdelt[1]) / float(cdelt[0]) if float(cdelt[0]) else 0.0
            pc = np.array([[math.cos(rho), -math.sin(rho) * ratio],
                           [math.sin(rho) / ratio if ratio else 0.0, math.cos(rho)]])
        m = np.diag(np.asarray(cdelt, dtype=float)) @ pc
    m = m * np.array(units)[:, None]
    sx, sy = m[0, 0], m[1, 1]
    if sx == 0 or sy == 0 or abs(m[0, 1]) > math.tan(_ALIGNED) * abs(sy) or abs(m[1, 0]) > math.tan(_ALIGNED) * abs(sx):
        return None
    keys = ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2")
    reference = None
    if all(is_number(header.get(k)) for k in keys):
        crpix1, crpix2, crval1, crval2 = (float(header[k]) for k in keys)
        reference = ((crpix1, crpix2), (crval1 * units[0], crval2 * units[1]))
    return (float(sx), float(sy)), reference


def _data_unit(header):
    """The data's unit for numbers in titles: BUNIT, 'dimensionless' when empty, else None."""
    bunit = None if header is None else header.get("BUNIT")
    if isinstance(bunit, str):
        return bunit.strip() or "dimensionless"
    return None


def _colour_limits(original, kind):
    """(vmin, vmax): the 0.5 and 99.5 percentiles (intensity) or +-the 99.5th of |B| (blos),
    of the input's finite pixels (of every pixel, or a regular sample of about 4 M)."""
    step = max(1, math.ceil(math.sqrt(original.size / CHUNK)))
    sample = np.asarray(original[::step, ::step], dtype=np.float64)
    finite = sample[np.isfinite(sample)]
    if kind == "blos":
        vmax = float(np.percentile(np.abs(finite), 99.5)) or 1.0
        return -vmax, vmax  # symmetric: zero field is the middle of the colour scale
    vmin, vmax = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
    return vmin, vmax


def _panel_pixels(ax):
    """(height, width) of ``ax`` on the saved figure, in whole screen pixels."""
    box = ax.get_window_extent()
    return int(box.height), int(box.width)


def comparison_figure(original, enhanced, *, kind, title=None, header=None, local=None, local_enhanced=None,
                      residual=None, forward=None, uncertainty=None, dpi=DPI):
    """The figure :func:`plot_comparison` saves: a :class:`matplotlib.figure.Figure`.

    Panels show NaN-aware block averages (:func:`block_mean`) with at most one image
    pixel per screen pixel; when a panel cannot show every pixel of its image, a second
    row shows a region of both at full resolution (:func:`zoom_region`), framed in
    orange on the input. Axes are helioprojective arcsec when the header gives an
    angular CUNIT and a scale (CDELT or CD), measured from CRVAL at CRPIX when the header
    has them; input pixels otherwise. Titles give each image's shape and its contrast
    (intensity, per cent) or RMS field (blos, in BUNIT); a magnetogram's colour scale is
    symmetric about zero.

    Parameters
    ----------
    original, enhanced : numpy.ndarray
        2-D input and its x2 (or x``f``) output. Not modified.
    kind : {'intensity', 'blos'}
    title : str, optional
    header : astropy.io.fits.Header, optional
        The input's.
    local, local_enhanced : numpy.ndarray, optional
        See :func:`plot_comparison`.
    residual : numpy.ndarray, optional
        The forward check's residual on the input's grid: a third column, in a diverging
        colour map symmetric about zero (+-3 times its RMS).
    forward : float, optional
        The forward check (percent), for the residual's title.
    uncertainty : numpy.ndarray, optional
        The 1-sigma map on the output's grid (``UNCERT``): one more column, from 0 to its
        99th percentile.
    dpi : float
        Dots per inch of the saved figure: sets how many screen pixels a panel has.

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot; drawn once, so that ``get_window_extent`` of its
        artists gives their place on the saved figure.
    """
    original, enhanced = np.asarray(original), np.asarray(enhanced)
    ny, nx = original.shape
    factor = enhanced.shape[0] // ny
    if enhanced.shape != (factor * ny, factor * nx) or factor < 1:
        raise ValueError(f"output shape {enhanced.shape} is not a multiple of the input's {original.shape}")
    unit = _data_unit(header)
    masks = (None, None)
    measured = (original, enhanced)
    if kind == "intensity" and local is not None and local_enhanced is not None:
        quiet = quiet_sun_mask(local)
        masks = (quiet, quiet)  # the input's quiet Sun, on the output too
        measured = (local, local_enhanced)
    stats = [rms_contrast(m, kind=kind, mask=q, unit=unit) for m, q in zip(measured, masks, strict=True)]
    vmin, vmax = _colour_limits(original, kind)
    turned = north_up(header)
    frame = _Frame(header, (ny, nx), turned=turned)
    names = ("input", f"Enhance x{factor}")
    images, factors = [original, enhanced], [1, factor]
    heads = [f"{name}: {shape_text(img.shape)}\n{s}" for name, img, s in zip(names, (original, enhanced), stats,
                                                                               strict=True)]
    extras = []  # (cmap, limits, zoom name) of each column after the first two
    if residual is not None:
        residual = np.asarray(residual)
        finite = residual[np.isfinite(residual)]
        spread = 3 * float(np.sqrt(np.mean(np.square(finite, dtype=np.float64)))) if finite.size else 1.0
        spread = spread if spread > 0 else 1.0
        images.append(residual)
        factors.append(1)
        value = "" if forward is None or not np.isfinite(forward) else f" ({forward:.2f} % of the input's RMS)"
        heads.append(f"forward check: HMI(output) - input\nRMS {spread / 3:.3g} {unit or ''}{value}".replace("  ", " "))
        extras.append((RESIDUAL_CMAP, (-spread, spread), "forward check"))
    if uncertainty is not None:
        uncertainty = np.asarray(uncertainty)
        finite = uncertainty[np.isfinite(uncertainty)]
        top = float(np.percentile(finite, 99)) if finite.size else 1.0
        images.append(uncertainty)
        factors.append(factor)
        median = float(np.median(finite)) if finite.size else float("nan")
        heads.append(f"uncertainty (UNCERT, 1 sigma)\nmedian {median:.3g} {unit or ''}".replace("  ", " "))
        extras.append((UNCERTAINTY_CMAP, (0.0, top if top > 0 else 1.0), "uncertainty"))
    layout = dict(kind=kind, title=title, header=header, frame=frame, limits=(vmin, vmax), dpi=dpi,
                  turned=turned, extras=extras)
    fig, axes = _layout(rows=1, heads=heads, **layout)
    shown = [_panel_pixels(ax) for ax in axes[0]]
    if any(n > p for img, panel in zip(images, shown, strict=True)
           for n, p in zip(img.shape, panel, strict=True)):
        fig, axes = _layout(rows=2, heads=heads, **layout)
        shown = [_panel_pixels(ax) for ax in axes[0]]
        zoom_shown = _panel_pixels(axes[1, 1])
        size = max(1, min(ZOOM_SIZE, min(zoom_shown) // factor))
        zoom = zoom_region(measured[0], kind=kind, size=size)
    else:
        zoom = None
    for column, (ax, img, panel, f) in enumerate(zip(axes[0], images, shown, factors, strict=True)):
        _show(ax, img, panel, frame, f, layout, extra=extras[column - 2] if column >= 2 else None)
    if zoom is not None:
        rows_, cols_ = zoom
        r0, r1, c0, c1 = rows_.start, rows_.stop, cols_.start, cols_.stop
        left, right, bottom, top = frame.extent((r0, r1), (c0, c1))
        axes[0, 0].add_patch(_rectangle((min(left, right), min(bottom, top)), abs(right - left), abs(top - bottom)))
        up = (slice(factor * r0, factor * r1), slice(factor * c0, factor * c1))
        zoomed = [(axes[1, 0], original[zoom], names[0], "gray", (vmin, vmax)),
                  (axes[1, 1], enhanced[up], names[1], "gray", (vmin, vmax))]
        for column, (cmap, limits, name) in enumerate(extras, 2):
            img = images[column]
            zoomed.append((axes[1, column], img[up] if factors[column] == factor else img[zoom], name, cmap, limits))
        for ax, img, name, cmap, (low, high) in zoomed:
            img = np.rot90(img, 2) if turned else img
            ax.imshow(img, origin="lower", cmap=cmap, vmin=low, vmax=high,
                      interpolation="nearest", extent=(left, right, bottom, top))
            ax.set_xlim(left, right)
            ax.set_ylim(bottom, top)
            ax.set_title(f"{name}, zoomed (orange box):\ninput rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1}",
                         fontsize=10)
    fig.draw_without_rendering()
    return fig


def _rectangle(corner, width, height):
    from matplotlib.patches import Rectangle

    return Rectangle(corner, width, height, fill=False, color="tab:orange", lw=1)


def _show(ax, image, panel, frame, factor, layout, *, extra=None):
    """Draw the block average of ``image`` (an x``factor`` grid) with at most one pixel per
    screen pixel of ``panel`` (height, width); ``extra``: the colours of an extra column."""
    ny, nx = image.shape
    k = max(1, math.ceil(ny / max(panel[0], 1)), math.ceil(nx / max(panel[1], 1)))
    small = block_mean(image, k)
    if layout["turned"]:
        small = np.rot90(small, 2)
    # the last block may reach past the image's edge: its extent too, the axes' limits do not
    # (when turned, that overhang is at the figure's left and bottom: Frame.extent turns it)
    rows, cols = (0, small.shape[0] * k / factor), (0, small.shape[1] * k / factor)
    cmap, (vmin, vmax) = (extra[0], extra[1]) if extra is not None else ("gray", layout["limits"])
    ax.imshow(small, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
              interpolation="nearest", extent=frame.extent(rows, cols))
    left, right, bottom, top = frame.extent()
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)


def _layout(*, rows, heads, kind, title, header, frame, limits, dpi, turned, extras):
    """The figure's axes, titles, labels, colour bar and notes, laid out (no image yet)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    ny, nx = frame.shape
    columns = len(heads)
    width = WIDTH * columns / 2
    fig = Figure(figsize=(width, rows * (5.5 * ny / max(nx, 1)) + 0.8), dpi=dpi, layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    left, right, bottom, top = frame.extent()
    for ax in axes.ravel():
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
        ax.set_aspect("equal")
        ax.set_xlabel(frame.xlabel, fontsize=9)
        ax.set_ylabel(frame.ylabel, fontsize=9)
        ax.tick_params(labelsize=8)
    for ax, head in zip(axes[0], heads, strict=True):
        ax.set_title(head, fontsize=10)
    if rows > 1:  # the zoomed panels' own limits come with their images
        for ax in axes[1]:
            ax.set_title("zoomed\n", fontsize=10)
    mappable = ScalarMappable(Normalize(*limits), cmap="gray")
    fig.colorbar(mappable, ax=axes[:, :2], shrink=0.8, label=_unit_label(header, kind))
    for column, (cmap, (low, high), _) in enumerate(extras, 2):
        fig.colorbar(ScalarMappable(Normalize(low, high), cmap=cmap), ax=axes[:, column], shrink=0.8,
                     label=_unit_label(header, kind))
    notes = [title] if title else []
    if turned:
        notes.append(f"turned 180 degrees (CROTA2 = {header.get('CROTA2', 'PC matrix')}): solar north up")
    if notes:
        fig.suptitle("\n".join(str(n) for n in notes))
    fig.draw_without_rendering()
    return fig, axes


def plot_comparison(path, original, enhanced, *, kind, title=None, header=None, local=None, local_enhanced=None,
                    residual=None, forward=None, uncertainty=None):
    """Write a figure (PNG, PDF or SVG, as its name ends) with the input and the output on the
    same colour scale.

    The figure is :func:`comparison_figure`'s: block averages at the figure's resolution,
    axes in arcsec where the WCS allows, a zoomed pair of panels when the whole-image
    panels cannot show every pixel.

    Parameters
    ----------
    path : str
        The file (written atomically), its format by its ending: ``.png``, ``.pdf`` or
        ``.svg`` (:func:`figure_format`).
    original, enhanced : numpy.ndarray
        2-D input and x2 output (one plane of a cube). Not modified.
    kind : {'intensity', 'blos'}
    title : str, optional
        Figure title (e.g. the input file name, and which plane of a cube), also the
        file's Title metadata.
    header : astropy.io.fits.Header, optional
        The input's: its BUNIT labels the colour bar and the RMS field, its CDELT/CD,
        CUNIT, CRPIX and CRVAL the axes, its CROTA2 (or PC matrix) turns an image stored
        south up (HMI: CROTA2 ~ 180) so that solar north is up.
    local, local_enhanced : numpy.ndarray, optional
        The input and the output divided by their local quiet-Sun level (I/I_qs; the
        limb-darkening profile on a full disk): the intensity contrast is measured on
        them, over the input's quiet Sun, so that limb darkening does not count as
        contrast; the zoomed region is chosen on them.
    residual, forward : numpy.ndarray, float, optional
        The forward check's residual image and value: a third column
        (:func:`comparison_figure`).
    uncertainty : numpy.ndarray, optional
        The 1-sigma map (``UNCERT``): one more column.
    """
    fmt = figure_format(path)
    fig = comparison_figure(original, enhanced, kind=kind, title=title, header=header, local=local,
                            local_enhanced=local_enhanced, residual=residual, forward=forward,
                            uncertainty=uncertainty)
    try:
        with atomic_path(path, suffix="." + fmt) as tmp:
            fig.savefig(tmp, dpi=fig.dpi, format=fmt, metadata={"Title": str(title)} if title else None)
    except OSError as exc:
        raise EnhanceError(f"cannot write the figure ({exc.strerror or exc})", path=path) from None


def figure_format(path):
    """The format a figure named ``path`` is written in, from its ending (:data:`FIGURE_FORMATS`).

    Raises
    ------
    EnhanceError
        Another ending, or none: the figure would be written in a format its name does not say.

    Examples
    --------
    >>> figure_format("fig.PDF")
    'pdf'
    """
    ending = os.path.splitext(os.fspath(path))[1].lower()
    if ending not in FIGURE_FORMATS:
        endings = ", ".join(FIGURE_FORMATS)
        said = f"ends in {ending}" if ending else "has no ending"
        raise EnhanceError(f"the figure's name {said}; give one ending in {endings} (its format)", path=path)
    return FIGURE_FORMATS[ending]


def check_figure_path(path):
    """Fail before any work when the figure ``path`` cannot be written: a name whose ending is
    not a format (:func:`figure_format`), a folder, a folder that cannot be made or written
    (:func:`~enhance_lib.io.atomic.check_output_folder`). Nothing is created.

    Returns
    -------
    str
        Its format.
    """
    fmt = figure_format(path)
    try:
        check_output_folder(path)
    except EnhanceError as exc:
        raise EnhanceError(f"cannot write the figure there: {exc.message}", path=path) from None
    return fmt


def _unit_label(header, kind):
    """The colour bar's label: the data's BUNIT as the header gives it."""
    bunit = None if header is None else header.get("BUNIT")
    if isinstance(bunit, str) and bunit.strip():
        return bunit.strip()
    if isinstance(bunit, str):
        return "dimensionless"
    return "data units (no BUNIT)" if kind == "intensity" else "B_los (no BUNIT)"
