"""The data type a header says it holds, and the observables the networks do not enhance."""

import logging
import warnings

import pytest
from astropy.io import fits

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


@pytest.mark.filterwarnings("ignore::enhance_lib.EnhanceUserWarning")
@pytest.mark.parametrize(
    "header, kind",
    [
        ({"CONTENT": "CONTINUUM INTENSITY"}, "intensity"),  # hmi.Ic_45s
        ({"CONTENT": "MAGNETOGRAM", "BUNIT": "Gauss"}, "blos"),  # hmi.M_45s
        ({"CONTENT": "HMI MAGNETOGRAM"}, "blos"),
        ({"CONTENT": "MAGNETOGRAM", "BUNIT": "DN/s"}, "blos"),  # CONTENT first
        ({"BUNIT": "G"}, "blos"),
        ({"BUNIT": "Gauss"}, "blos"),
        ({"BUNIT": "Mx/cm^2"}, "blos"),
        ({"BUNIT": "Mx/cm2"}, "blos"),
        ({"BUNIT": "DN/s"}, "intensity"),
        ({"CONTENT": "DOPPLERGRAM", "BUNIT": "m/s"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_kind_from_header(header, kind):
    assert kind_from_header(None if header is None else fits.Header(header))[0] == kind


@pytest.mark.filterwarnings("ignore::enhance_lib.EnhanceUserWarning")
def test_resolve_kind_logs_why_and_warns_on_contradiction(caplog):
    caplog.set_level(logging.INFO, logger="enhance_lib")
    assert resolve_kind(None, {"CONTENT": "MAGNETOGRAM"}, source="m.fits") == "blos"
    assert "m.fits: data type blos, from the header (CONTENT = 'MAGNETOGRAM')" in caplog.text
    assert resolve_kind(None, {}, source="x.fits") == "intensity"
    assert "x.fits: data type intensity (the default: the header has no CONTENT or BUNIT)" in caplog.text
    with pytest.warns(EnhanceUserWarning, match="enhancing as intensity as asked, but the header says blos"):
        assert resolve_kind("intensity", {"BUNIT": "G"}, source="b.fits") == "intensity"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_kind("blos", {"BUNIT": "G"}) == "blos"  # agreement: no warning
