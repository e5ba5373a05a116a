"""weights.py: stamps the data type into a weights file."""

import h5py
import pytest

from enhance_lib.nets.weights import inspect_weights

pytestmark = pytest.mark.backend


def _datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.update({name: obj[()].tobytes()}) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_stamp_kind_adds_only_the_attribute(tmp_path, tiny_weights, capsys):
    import shutil

    from enhance_lib.nets.weights import stamp_kind
    from enhance_lib.scripts.weights import main

    path = tmp_path / "net.weights.h5"
    shutil.copyfile(tiny_weights, path)
    before = _datasets(path)
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
    assert stamp_kind(path, "intensity").kind == "intensity"
    assert _datasets(path) == before
    with h5py.File(path, "r") as f:
        assert {k: v for k, v in f.attrs.items() if k != "enhance_kind"} == attrs
    # the command line: show, then re-stamp
    assert main([str(path)]) == 0
    assert "data type intensity" in capsys.readouterr().out
    assert main([str(path), "--kind", "blos", "-q"]) == 0
    assert inspect_weights(path).kind == "blos" and _datasets(path) == before
    capsys.readouterr()
    assert main([str(tmp_path / "missing.weights.h5"), "--kind", "blos"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err
