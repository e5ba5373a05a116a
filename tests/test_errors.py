"""Warnings point at the caller's line, whichever way the library was entered."""

import warnings

import numpy as np
import pytest
from astropy.io import fits

import enhance_lib
from enhance_lib.errors import EnhanceMetadataWarning, EnhanceUserWarning, warn_user


def _image():
    return (1 + 0.04 * np.random.default_rng(0).standard_normal((40, 36))).astype(np.float32)


def _line_of(marker):
    """The line number in this file of the line that ends with ``# marker``."""
    with open(__file__) as f:
        return next(k for k, line in enumerate(f, 1) if line.rstrip().endswith(f"# {marker}"))


def test_a_header_contradicting_the_kind_warns_at_the_callers_line(tiny_weights):
    header = fits.Header({"CONTENT": "MAGNETOGRAM"})
    with pytest.warns(EnhanceUserWarning, match="header says blos") as record:
        enhance_lib.enhance(_image(), header=header, kind="intensity", weights=tiny_weights)  # api
    assert (record[0].filename, record[0].lineno) == (__file__, _line_of("api"))
    enhancer = enhance_lib.Enhancer(kind="intensity", weights=tiny_weights)
    with pytest.warns(EnhanceUserWarning, match="header says blos") as record:
        enhancer.enhance_header(_image(), header)  # method
    assert (record[0].filename, record[0].lineno) == (__file__, _line_of("method"))


def test_a_far_pixel_scale_warns_at_the_callers_line(tiny_weights):
    header = fits.Header({"CDELT1": 0.03, "CDELT2": 0.03, "CUNIT1": "arcsec", "CUNIT2": "arcsec"})
    enhancer = enhance_lib.Enhancer(kind="intensity", weights=tiny_weights)
    with pytest.warns(EnhanceMetadataWarning, match="far from HMI's") as record:
        enhancer.enhance(_image(), header)  # scale
    assert (record[0].filename, record[0].lineno) == (__file__, _line_of("scale"))


def test_a_cubes_empty_plane_warns_at_the_callers_line(tiny_weights):
    cube = np.stack([_image(), np.full((40, 36), np.nan, np.float32)])
    with pytest.warns(EnhanceUserWarning, match="plane 2 of 2") as record:
        enhance_lib.enhance(cube, kind="intensity", weights=tiny_weights)  # cube
    assert (record[0].filename, record[0].lineno) == (__file__, _line_of("cube"))


def test_warn_user_called_directly_points_here():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warn_user("a message")  # direct
    assert (record[0].filename, record[0].lineno) == (__file__, _line_of("direct"))
