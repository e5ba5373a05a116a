"""FITS headers: the keywords of the x2 grid, HISTORY cards, the pixel scale.

:func:`upsample_header` makes the header of the x2 image: it keeps every card of the
input except the storage keywords that do not apply to a float32 primary HDU
(:func:`strip_structural`, also used by the writer) and the stale data statistics,
and rescales the WCS and HMI's pixel keywords for the new grid.
"""

import re
import textwrap

import numpy as np
from astropy.io import fits

from ..errors import warn_metadata

__all__ = [
    "ANGLE_UNITS",
    "HISTORY_WIDTH",
    "add_history",
    "is_number",
    "pixel_scale",
    "strip_structural",
    "upsample_header",
]

# Keywords that describe the storage of the input HDU rather than the image; they
# are wrong for (or forbidden in) the float32 primary HDU that is written.
_STRUCTURAL = ("XTENSION", "PCOUNT", "GCOUNT", "BSCALE", "BZERO", "BLANK", "CHECKSUM", "DATASUM", "EXTNAME")
# Tile-compression keywords (FITS standard 4.0, section 10.1); a user keyword that
# merely starts with Z (e.g. ZOOM) is kept.
_COMPRESSION = re.compile(
    r"^(ZIMAGE|ZBITPIX|ZNAXIS\d*|ZTILE\d+|ZCMPTYPE|ZNAME\d+|ZVAL\d+|ZMASKCMP|ZSIMPLE|ZTENSION|ZEXTEND"
    r"|ZBLOCKED|ZPCOUNT|ZGCOUNT|ZHECKSUM|ZDATASUM|ZQUANTIZ|ZDITHER0|ZBLANK|ZSCALE|ZZERO)$"
)
# Binary-table keywords of a raw compressed HDU header.
_TABLE = re.compile(r"^(TFIELDS|TTYPE\d+|TFORM\d+|TUNIT\d+|TSCAL\d+|TZERO\d+|TNULL\d+|TDIM\d+|THEAP)$")
# Data statistics: the x2 image has other values and four times as many pixels, and
# readers use them (DATAMIN/DATAMAX for display). HMI records TOTVALS, DATAVALS,
# MISSVALS, DATAMIN/MAX/MEDN/MEAN/RMS/SKEW/KURT, their "2" variants and percentiles DATAPnn.
_STALE = re.compile(
    r"^(DATAMIN|DATAMAX|TOTVALS|DATAVALS|MISSVALS"
    r"|DATA(MEDN|MEAN|RMS|SKEW|KURT)|DATA(MIN|MAX|MED|MEA|RMS|SKE|KUR)2|DATAP\d\d)$"
)


#: Angular units of CUNITn, in arcsec.
ANGLE_UNITS = {"arcsec": 1.0, "arcmin": 60.0, "deg": 3600.0, "mas": 1e-3, "rad": 206264.80624709636}


def pixel_scale(header):
    """The pixel scale in arcsec per pixel (the mean of the two axes), or None when the
    header does not say: no CDELT or CD matrix, or no CUNIT giving angular units (the
    FITS standard's default of degrees is not assumed: many files leave CUNIT out
    without meaning it).
    """
    if header is None:
        return None
    scales = []
    for i in (1, 2):
        unit = str(header.get(f"CUNIT{i}", "") or "").strip().lower()
        if unit not in ANGLE_UNITS:
            return None
        if f"CD{i}_1" in header or f"CD{i}_2" in header:
            values = [header.get(f"CD{i}_{j}", 0.0) for j in (1, 2)]
            if not all(is_number(v) for v in values):
                return None
            step = float(np.hypot(*values))
        elif is_number(header.get(f"CDELT{i}")):
            step = abs(float(header[f"CDELT{i}"]))
        else:
            return None
        scales.append(step * ANGLE_UNITS[unit])
    return float(np.mean(scales)) if all(s > 0 for s in scales) else None


def is_number(value):
    """True for a header value that is a real number (a bool is not)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def strip_structural(header):
    """Remove, in place on a header we own, the keywords that describe the input's storage."""
    drop = [
        key
        for key in header
        if key in _STRUCTURAL or _COMPRESSION.match(key) or (_TABLE.match(key) and "ZIMAGE" in header)
    ]
    for key in dict.fromkeys(drop):
        # Removes every occurrence of a repeated keyword.
        while key in header:
            del header[key]
    if "SIMPLE" not in header:
        header.insert(0, ("SIMPLE", True, "conforms to FITS standard"))
    return header


def upsample_header(header, *, shape, factor=2):
    """Return a new header for the image upsampled ``factor`` times.

    Every card of ``header`` is kept (comments and HISTORY included) except the
    storage keywords that do not apply to a float32 primary HDU (XTENSION, PCOUNT,
    GCOUNT, BSCALE, BZERO, BLANK, CHECKSUM, DATASUM, EXTNAME and the tile-compression
    Z keywords) and the data statistics, which would be stale (DATAMIN, DATAMAX and
    HMI's TOTVALS, DATAVALS, MISSVALS, DATAMEAN, DATARMS, DATAPnn, ...); the writer
    does not recompute them. Only FITS axes 1 and 2 change, so a cube keeps its third axis.

    The WCS follows the rule of ``sunpy.map.GenericMap.resample``: the pixel edges of
    the two grids coincide, so CDELTi and CDi_j are divided by ``factor`` and
    ``CRPIXi -> factor * (CRPIXi - 0.5) + 0.5``; CRVAL, PCi_j and CROTA are left as
    they are (also for the alternative WCS letters A-Z). The HMI keywords measured in
    pixels follow: R_SUN is multiplied by ``factor``, the 0-based disk-centre pixel
    X0_MP/Y0_MP becomes ``factor * x + (factor - 1) / 2`` and the plate scale
    IMSCL_MP is divided by ``factor``. Their comments, which described the input's
    grid (e.g. "HMI's pixel scale"), are replaced by the rule, e.g.
    ``[arcsec/px] x2 grid: input's / 2`` (the unit in brackets kept when the input's
    comment began with one).

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header of the input image; not modified.
    shape : tuple of int
        (ny, nx) of the output image.
    factor : int
        Upsampling factor.

    Returns
    -------
    astropy.io.fits.Header

    Examples
    --------
    >>> from astropy.io import fits
    >>> header = fits.Header({"CDELT1": 0.504, "CRPIX1": 2048.5, "R_SUN": 1900.0})
    >>> new = upsample_header(header, shape=(8192, 8192))
    >>> new["CDELT1"], new["CRPIX1"], new["R_SUN"]
    (0.252, 4096.5, 3800.0)
    """
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be the output (ny, nx), got {shape!r}")
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor!r}")
    new = strip_structural(fits.Header(header, copy=True))
    for key in {k for k in new if _STALE.match(k)}:
        new.remove(key, ignore_missing=True, remove_all=True)

    def rescale(key, func, rule):
        if key in new:
            value = new[key]
            if is_number(value):
                # the input's comment (e.g. "HMI's pixel scale") would describe the input's grid:
                # say what the value now is, keeping the unit in brackets if it had one
                new[key] = (func(float(value)), _grid_comment(new.comments[key], f"x{factor} grid: {rule}"))
            else:
                warn_metadata(f"header keyword {key} = {value!r} is not a number; left as it is")

    shift = f"{(factor - 1) / 2:g}"
    for alt in ("",) + tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        for i in (1, 2):
            rescale(f"CDELT{i}{alt}", lambda v: v / factor, f"input's / {factor}")
            rescale(f"CRPIX{i}{alt}", lambda v: factor * (v - 0.5) + 0.5, f"{factor}*(input's - 0.5) + 0.5")
            for j in (1, 2):
                rescale(f"CD{i}_{j}{alt}", lambda v: v / factor, f"input's / {factor}")
    rescale("R_SUN", lambda v: v * factor, f"input's * {factor}")
    rescale("X0_MP", lambda v: factor * v + (factor - 1) / 2, f"{factor}*input's + {shift}")
    rescale("Y0_MP", lambda v: factor * v + (factor - 1) / 2, f"{factor}*input's + {shift}")
    rescale("IMSCL_MP", lambda v: v / factor, f"input's / {factor}")

    new.set("BITPIX", -32, after="SIMPLE" if "BITPIX" not in new else None)
    ny, nx = (int(n) for n in shape)
    new["NAXIS1"] = nx
    new["NAXIS2"] = ny
    return new


#: Room for a comment on a card with a number: 80 - len("KEYWORD = ") - 20 (the value) - len(" / ").
_COMMENT_ROOM = 47


def _grid_comment(original, rule):
    """The comment of a keyword rescaled for the new grid: ``rule``, after the unit in
    brackets that starts ``original`` (FITS's convention, e.g. ``[arcsec/pixel]``) when
    it has one and there is room for it."""
    match = re.match(r"\s*(\[[^\]]*\])", original or "")
    if match and len(match.group(1)) + 1 + len(rule) <= _COMMENT_ROOM:
        return f"{match.group(1)} {rule}"
    return rule


#: Characters of text a HISTORY card holds (80 less the keyword's 8 columns).
HISTORY_WIDTH = 72


def add_history(header, lines):
    """Return a copy of ``header`` with each line added as HISTORY cards of whole words.

    A line longer than a card (:data:`HISTORY_WIDTH` characters) continues on the next
    cards, split between words (astropy would cut it at the 72nd character, mid-word);
    only a word longer than a card is cut. The cards joined with spaces give the line back.

    Parameters
    ----------
    header : astropy.io.fits.Header
    lines : str or iterable of str

    Returns
    -------
    astropy.io.fits.Header

    Examples
    --------
    >>> from astropy.io import fits
    >>> cards = add_history(fits.Header(), "word " * 15 + "measured")["HISTORY"]
    >>> [len(card) for card in cards], cards[1]
    ([69, 13], 'word measured')
    """
    new = header.copy()
    for line in [lines] if isinstance(lines, str) else lines:
        text = str(line)
        for card in textwrap.wrap(text, HISTORY_WIDTH, break_on_hyphens=False) or [text]:
            new.add_history(card)
    return new
