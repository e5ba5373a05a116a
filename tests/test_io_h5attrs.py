"""HDF5 attributes decoded as h5py hands them over: bytes, str, numpy scalars and arrays."""

import h5py
import numpy as np

from enhance_lib.io.h5attrs import decode_attr


def test_attributes_read_back_from_a_file_decode_to_python_values(tmp_path):
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f.attrs["config"] = '{"model": "keepsize", "depth": 2}'  # how the package stores dicts
        f.attrs["kind"] = np.bytes_(b"blos")  # fixed-length bytes, as older files have them
        f.attrs["note"] = "not [json"
        f.attrs["scale"] = np.float32(0.5)
        f.attrs["count"] = np.int64(7)
        f.attrs["flag"] = np.bool_(True)
        f.attrs["levels"] = np.array([1.0, 2.5])
    with h5py.File(path, "r") as f:
        attrs = {key: decode_attr(value) for key, value in f.attrs.items()}
        raw_kind = decode_attr(f.attrs["kind"], parse_json=False)
        raw_config = decode_attr(f.attrs["config"], parse_json=False)
    assert attrs["config"] == {"model": "keepsize", "depth": 2}
    assert attrs["kind"] == "blos" and raw_kind == "blos"
    assert raw_config == '{"model": "keepsize", "depth": 2}'
    assert attrs["note"] == "not [json"  # text that is not JSON stays text
    assert attrs["scale"] == 0.5 and type(attrs["scale"]) is float
    assert attrs["count"] == 7 and type(attrs["count"]) is int
    assert attrs["flag"] is True
    np.testing.assert_array_equal(attrs["levels"], [1.0, 2.5])  # arrays stay arrays
    assert isinstance(attrs["levels"], np.ndarray)


def test_json_numbers_and_lists_in_text():
    assert decode_attr(b"[1, 2.5, null]") == [1, 2.5, None]
    assert decode_attr("3") == 3
    assert decode_attr(b"") == ""  # empty text is not JSON
