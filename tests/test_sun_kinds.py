"""The data type a header says it holds, and the observables the networks do not enhance."""

import pytest

from enhance_lib.errors import EnhanceError, EnhanceUserWarning
from enhance_lib.sun.kinds import kind_from_header, observable_from_header, resolve_kind


@pytest.mark.parametrize(("header", "observable"), [
    ({"CONTENT": "DOPPLERGRAM", "BUNIT": "cm/s"}, "velocity"),  # hmi.V_45s
    ({"BUNIT": "cm/s"}, "velocity"),
    ({"BUNIT": "km s-1"}, "velocity"),
    ({"CONTENT": "LINEWIDTH", "BUNIT": "mA"}, "line width"),
    ({"BUNIT": "mA"}, "line width or depth"),
    ({"CONTENT": "INCLINATION", "BUNIT": "deg"}, "field inclination"),
    ({"BUNIT": "degree"}, "angle (field inclination or azimuth)"),
    ({"CONTENT": "MAGNETOGRAM", "BUNIT": "Mx/cm^2"}, "blos"),
    ({"CONTENT": "CONTINUUM INTENSITY", "BUNIT": "DN/s"}, "intensity"),
    ({}, None),
])
def test_observable_from_header(header, observable):
    assert observable_from_header(header)[0] == observable
    assert kind_from_header(header)[0] == (observable if observable in ("intensity", "blos") else None)


def test_other_observables_are_refused_unless_a_kind_is_given():
    header = {"CONTENT": "DOPPLERGRAM", "BUNIT": "cm/s"}
    with pytest.raises(EnhanceError, match=r"^v.fits: velocity maps are not a data type these networks enhance "
                       r"\(CONTENT = 'DOPPLERGRAM'\)"):
        resolve_kind(None, header, source="v.fits")
    with pytest.raises(EnhanceError, match="velocity maps"):  # the weights' type does not override the header
        resolve_kind(None, header, source="v.fits", default="blos")
    with pytest.warns(EnhanceUserWarning, match="enhancing as intensity as asked, but the header says velocity"):
        assert resolve_kind("intensity", header) == "intensity"


def test_a_kind_can_be_required():
    with pytest.raises(EnhanceError, match=r"cannot tell intensity from blos \(the header has no CONTENT or BUNIT\); "
                       r"give `kind`"):
        resolve_kind(None, {}, required=True)
    assert resolve_kind(None, {}, required=True, default="blos") == "blos"
    assert resolve_kind(None, {}) == "intensity"
