"""The database file: written, checked, its mask."""

import h5py
import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.training.database_file import check_database, write_database


def test_write_and_check_roundtrip(tmp_path):
    x = np.ones((3, 4, 4), np.float32)
    y = np.ones((3, 8, 8), np.float32)
    path = tmp_path / "db.h5"
    write_database(path, x, y, attrs={"mode": "test", "region": [1, 2]})
    info = check_database(path)
    assert info.n == 3 and info.input_shape == (4, 4, 1) and info.target_shape == (8, 8, 1)
    assert info.attrs["region"] == [1, 2]
    with pytest.raises(EnhanceError, match="2nx"):
        write_database(tmp_path / "bad.h5", x, np.ones((3, 6, 6)))


def test_check_database_rejects_bad_mask(tmp_path):
    x = np.ones((3, 4, 4), np.float32)
    y = np.ones((3, 8, 8), np.float32)
    with pytest.raises(EnhanceError, match="lossMask must be"):
        write_database(tmp_path / "bad.h5", x, y, mask=np.ones((3, 4, 4)))
    path = tmp_path / "db.h5"
    write_database(path, x, y)
    assert not check_database(path).has_mask
    with h5py.File(path, "a") as f:
        f["lossMask"] = np.ones((3, 8, 8, 2), np.uint8)
    with pytest.raises(EnhanceError, match="lossMask must be"):
        check_database(path)
