"""The kinds of data the networks enhance, and the kind a FITS header says it holds.

HMI's own products say what they hold in ``CONTENT`` (``CONTINUUM INTENSITY`` for
``hmi.Ic_45s``, ``MAGNETOGRAM`` for ``hmi.M_45s``); other files often say it only
through the data unit ``BUNIT``. A header that says neither means intensity, the
original program's default.
"""

import logging
import re

from ..errors import EnhanceError, warn_user

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_KIND", "KINDS", "check_kind", "kind_from_header", "observable_from_header", "resolve_kind",
]


#: Kinds of data the networks enhance: continuum intensity and line-of-sight magnetograms.
KINDS = ("intensity", "blos")
#: The kind when neither the user nor the header says (the original program's default).
DEFAULT_KIND = "intensity"

# CONTENT values (upper case, compared as prefixes after HMI's optional "HMI " prefix).
_CONTENT = (
    ("CONTINUUM", "intensity"),
    ("INTENSITY", "intensity"),
    ("MAGNETOGRAM", "blos"),
    ("LOS MAGNETIC", "blos"),
    ("LINE-OF-SIGHT MAGNETIC", "blos"),
)
# Units of a magnetogram: field strength or flux density (HMI writes 'Gauss', Mx/cm^2 for
# flux-density products); compared case-insensitively with spaces removed.
_FIELD_UNITS = {"g", "gauss", "kg", "kgauss", "mx/cm^2", "mx/cm2", "mxcm^-2", "mxcm-2", "mx.cm**-2", "mx/cm**2",
                "t", "mt", "tesla"}
# Units of an intensity (count rates, normalised or dimensionless data).
_INTENSITY_UNITS = {"dn/s", "dn", "ct/s", "count/s", "counts/s", "erg/(s.cm2.sr.angstrom)"}
# Other observables (HMI's Dopplergrams, line widths and depths, vector-field angles), which the
# networks never saw: CONTENT prefixes and units, each with the observable's name.
_OTHER_CONTENT = (
    ("DOPPLERGRAM", "velocity"),
    ("DOPPLER", "velocity"),
    ("VELOCITY", "velocity"),
    ("LINE WIDTH", "line width"),
    ("LINEWIDTH", "line width"),
    ("LINE DEPTH", "line depth"),
    ("LINEDEPTH", "line depth"),
    ("INCLINATION", "field inclination"),
    ("AZIMUTH", "field azimuth"),
    ("FIELD STRENGTH", "total field strength"),
    ("MAGNETIC FIELD STRENGTH", "total field strength"),
)
_OTHER_UNITS = {
    **dict.fromkeys(("cm/s", "m/s", "km/s", "cms^-1", "cms-1", "ms^-1", "ms-1", "kms^-1", "kms-1"), "velocity"),
    **dict.fromkeys(("ma", "mangstrom", "milliangstrom", "angstrom", "nm", "pm"), "line width or depth"),
    **dict.fromkeys(("deg", "degree", "degrees", "rad", "radian", "radians"), "angle (field inclination or azimuth)"),
}


def check_kind(kind):
    """Return ``kind`` if it is one of :data:`KINDS`, else raise :class:`EnhanceError`."""
    if kind not in KINDS:
        raise EnhanceError(f"unknown data type {kind!r}; choose {' or '.join(KINDS)}")
    return kind


def observable_from_header(header):
    """What a header says its data are, among the kinds the networks enhance and the other
    observables it knows by name (velocity, line width or depth, field angles), and why.

    Returns
    -------
    observable : str or None
        One of :data:`KINDS`, another observable's name, or None when the header says
        nothing about it.
    reason : str
        The keyword that decided, for the messages (e.g. ``BUNIT = 'cm/s'``).

    Examples
    --------
    >>> observable_from_header({"CONTENT": "DOPPLERGRAM", "BUNIT": "cm/s"})
    ('velocity', "CONTENT = 'DOPPLERGRAM'")
    >>> observable_from_header({"BUNIT": "Gauss"})
    ('blos', "BUNIT = 'Gauss'")
    """
    if header is None:
        return None, "no header"
    content = str(header.get("CONTENT", "") or "").strip().upper()
    words = re.sub(r"^HMI\s+", "", content)
    for prefix, found in _CONTENT + _OTHER_CONTENT:
        if words.startswith(prefix):
            return found, f"CONTENT = {header.get('CONTENT')!r}"
    bunit = header.get("BUNIT")
    if isinstance(bunit, str) and bunit.strip():
        unit = re.sub(r"\s+", "", bunit).lower()
        for units, found in ((_FIELD_UNITS, "blos"), (_INTENSITY_UNITS, "intensity"), (_OTHER_UNITS, None)):
            if unit in units:
                return found or _OTHER_UNITS[unit], f"BUNIT = {bunit!r}"
    return None, "the header has no CONTENT or BUNIT" if not content and not bunit else (
        "neither CONTENT nor BUNIT names a kind of data")


def kind_from_header(header):
    """The kind of data a header says it holds, and why.

    Parameters
    ----------
    header : astropy.io.fits.Header, dict-like or None

    Returns
    -------
    kind : {'intensity', 'blos'} or None
        None when the header says nothing about it.
    reason : str
        The keyword that decided, for the log (e.g. ``CONTENT = 'MAGNETOGRAM'``).

    Examples
    --------
    >>> kind_from_header({"CONTENT": "MAGNETOGRAM"})
    ('blos', "CONTENT = 'MAGNETOGRAM'")
    >>> kind_from_header({"BUNIT": "DN/s"})
    ('intensity', "BUNIT = 'DN/s'")
    >>> kind_from_header({})
    (None, 'the header has no CONTENT or BUNIT')
    >>> kind_from_header({"BUNIT": "cm/s"})
    (None, "BUNIT = 'cm/s' (velocity)")
    """
    found, reason = observable_from_header(header)
    if found is None or found in KINDS:
        return found, reason
    return None, f"{reason} ({found})"


def resolve_kind(kind, header, *, source=None, default=None, required=False):
    """The kind to enhance: ``kind`` if given, else the header's, else ``default`` (the
    kind the weights record), else intensity.

    An explicit ``kind`` that contradicts the header is obeyed, with an
    :class:`~enhance_lib.errors.EnhanceUserWarning`. A header that names another
    observable (a Dopplergram's velocity, a line width, a field angle) is refused
    by name unless ``kind`` is given. The choice and its reason are logged.

    Parameters
    ----------
    kind : {'intensity', 'blos'} or None
        What the user asked for; None to read it from ``header``.
    header : astropy.io.fits.Header, dict-like or None
    source : str, optional
        Name of the file (or map) for the messages.
    default : {'intensity', 'blos'} or None
        The kind when neither ``kind`` nor the header says: the one the weights file
        records (:func:`enhance_lib.nets.weights.inspect_weights`), if any.
    required : bool
        When nothing says (no ``kind``, header or ``default``), raise instead of taking
        intensity (for sunpy maps, whose metadata should say).

    Returns
    -------
    str

    Raises
    ------
    EnhanceError
        An unknown ``kind``; a header naming another observable and no ``kind``; nothing
        saying the kind when ``required``.
    """
    found, reason = observable_from_header(header)
    where = f"{source}: " if source else ""
    if kind is not None:
        check_kind(kind)
        if found is not None and found != kind:
            warn_user(f"{where}enhancing as {kind} as asked, but the header says {found} ({reason})")
        return kind
    if found is not None and found not in KINDS:
        raise EnhanceError(f"{where}{found} maps are not a data type these networks enhance ({reason}); they "
                           "enhance continuum intensity and line-of-sight magnetograms (give `kind` to force one)")
    if found is None and default is None and required:
        raise EnhanceError(f"{where}cannot tell intensity from blos ({reason}); give `kind` "
                           "(intensity or blos)")
    if found is None and default is not None:
        log.info("%sdata type %s, which the weights are for (%s)", where, check_kind(default), reason)
        return default
    if found is None:
        log.info("%sdata type intensity (the default: %s)", where, reason)
        return DEFAULT_KIND
    log.info("%sdata type %s, from the header (%s)", where, found, reason)
    return found
