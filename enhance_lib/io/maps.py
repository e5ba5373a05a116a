"""sunpy maps: the optional import, the data type a map says it holds, and its name for messages."""

from ..errors import EnhanceError
from ..sun.kinds import resolve_kind

__all__ = ["import_sunpy_map", "map_kind", "map_name"]

#: Metadata keys of an observation time: without one, sunpy dates a map "now".
_DATE_KEYS = ("date-obs", "date_obs", "t_obs", "date-avg", "date-beg")


def import_sunpy_map():
    """``sunpy.map``, or a one-line :class:`EnhanceError` naming the extra."""
    try:
        import sunpy.map
    except ImportError:
        raise EnhanceError("enhance_map needs sunpy (pip install 'enhance-keras3[sunpy]')") from None
    return sunpy.map


def map_name(smap):
    """A map's name for messages: its class and, when its metadata has one, its observation
    time (sunpy's ``name`` would show the current time for a map that has none)."""
    name = type(smap).__name__
    if any(key in smap.meta for key in _DATE_KEYS):
        name += f" of {smap.date.isot[:19]}"
    return name


def map_kind(smap):
    """The data type a sunpy map holds (HMI continuum -> intensity, magnetogram -> blos), or an
    error asking for it (or naming the other observable it holds)."""
    meta = {"CONTENT": smap.meta.get("content"), "BUNIT": smap.meta.get("bunit")}
    return resolve_kind(None, meta, source=map_name(smap), required=True)
