"""Tests of enhance_lib.training.simulate: databases simulated through the HMI forward model, the
synthetic-Sun cache."""


import h5py
import numpy as np
import pytest
from synthetic import read_database, write_fits

from enhance_lib.errors import EnhanceUserWarning
from enhance_lib.scripts.database import main
from enhance_lib.training import simulate
from enhance_lib.training.database_file import check_database


def test_simulate_synthetic(simulated):
    info = check_database(simulated)
    assert info.n == 12
    assert info.input_shape == (8, 8, 1) and info.target_shape == (16, 16, 1)
    attrs = info.attrs
    assert attrs["mode"] == "simulate" and attrs["type"] == "intensity"
    assert attrs["psf_variant"] == "enhance"
    assert attrs["input_pixel_scale"] == 0.504 and attrs["target_pixel_scale"] == 0.252
    assert attrs["target_diameter"] == 0.28 and attrs["noise"] == 1e-3
    assert attrs["seed"] == 3 and attrs["patch_size"] == 8
    x, y = read_database(simulated)
    # Normalised to the quiet Sun of the input: means near 1, targets more contrasted.
    assert x.mean() == pytest.approx(1.0, abs=0.03)
    assert y.mean() == pytest.approx(x.mean(), abs=0.02)
    assert y.std() > x.std()
    # Targets binned 2x2 resemble the inputs (same scene, sharper PSF).
    binned = y.reshape(12, 8, 2, 8, 2).mean(axis=(2, 4))
    assert np.corrcoef(binned.ravel(), x.ravel())[0, 1] > 0.8


def test_simulate_deterministic(simulated, tmp_path):
    again = tmp_path / "again.h5"
    other = tmp_path / "other.h5"
    common = ["--scenes", "2", "--scene-size", "256", "--patches", "12", "--patch-size", "8", "-q"]
    assert main(["simulate", "-o", str(again), "--seed", "3"] + common) == 0
    assert main(["simulate", "-o", str(other), "--seed", "4"] + common) == 0
    a, b, c = read_database(simulated), read_database(again), read_database(other)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_simulate_truth_fits_blos(tmp_path):
    rng = np.random.default_rng(0)
    # A 3-D cube of two snapshots at 0.063"/px: 128 px -> 16 HMI px, 32 target px.
    cube = rng.normal(0, 300, (2, 128, 128))
    cube[:, 40:80, 40:80] += 2000.0
    truth = write_fits(tmp_path / "truth.fits", cube)
    out = tmp_path / "blos.h5"
    code = main(
        ["simulate", "-q", "-t", "blos", "-o", str(out), "--truth", truth, "--pixel-scale",
         "0.063", "--patches", "10", "--patch-size", "6", "--noise", "0"]
    )
    assert code == 0
    info = check_database(out)
    assert info.attrs["type"] == "blos" and info.attrs["snapshots"] == 2
    assert info.attrs["sources"] == [truth]
    x, _y = read_database(out)
    assert 0.3 < np.abs(x).max() < 2.5  # kG
    # Flux (mean) is conserved by the forward model up to the PSF's spill.
    lows, highs = simulate.simulate_pairs([cube[0]], pixel_scale=0.063, kind="blos")
    assert lows[0].shape == (16, 16) and highs[0].shape == (32, 32)
    assert highs[0].mean() == pytest.approx(lows[0].mean(), rel=0.05)


def test_synthetic_database_cache(tmp_path, monkeypatch):
    from enhance_lib.training.simulate import SYNTHETIC_RECIPE, cache_dir, synthetic_database

    monkeypatch.setenv("ENHANCE_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == str(tmp_path / "cache")
    toy = {"n_patches": 10, "scenes": 1, "scene_size": 256, "patch_size": 12}
    info, built = synthetic_database(kind="blos", **toy)
    assert built and info.path.startswith(str(tmp_path / "cache"))
    assert (info.n, info.attrs["type"], info.attrs["recipe"]) == (10, "blos", SYNTHETIC_RECIPE)
    again, built = synthetic_database(kind="blos", **toy)
    assert not built and again.path == info.path
    # a file of another recipe (or a broken one) under the same name is built again
    with h5py.File(info.path, "a") as f:
        f.attrs["recipe"] = SYNTHETIC_RECIPE - 1
    rebuilt, built = synthetic_database(kind="blos", **toy)
    assert built and rebuilt.attrs["recipe"] == SYNTHETIC_RECIPE
    with open(info.path, "wb") as f:
        f.write(b"truncated")
    with pytest.warns(EnhanceUserWarning, match="cached database unusable .*not a readable HDF5 file"):
        assert synthetic_database(kind="blos", **toy)[1]
    other, built = synthetic_database(kind="blos", **dict(toy, n_patches=12))
    assert built and other.path != info.path and other.n == 12
    monkeypatch.delenv("ENHANCE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == str(tmp_path / "xdg" / "enhance")
