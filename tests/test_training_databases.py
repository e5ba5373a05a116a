"""Databases: the file format, the simulate and pairs builders, the enhance-database CLI."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.io import fits

from enhance_lib.errors import EnhanceUserWarning
from enhance_lib.scripts.database import main
from enhance_lib.training import pairs, patches, simulate
from enhance_lib.training.database_file import check_database


def _write_fits(path, data):
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32)).writeto(path)
    return str(path)


def _read(path):
    with h5py.File(path, "r") as f:
        return f["imHMI"][...], f["imSST"][...]


# -- file format --------------------------------------------------------------


# -- simulate -----------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "sim.h5"
    code = main(
        ["simulate", "-q", "-o", str(path), "--scenes", "2", "--scene-size", "256",
         "--patches", "12", "--patch-size", "8", "--seed", "3"]
    )
    assert code == 0
    return path


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
    x, y = _read(simulated)
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
    a, b, c = _read(simulated), _read(again), _read(other)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_simulate_truth_fits_blos(tmp_path):
    rng = np.random.default_rng(0)
    # A 3-D cube of two snapshots at 0.063"/px: 128 px -> 16 HMI px, 32 target px.
    cube = rng.normal(0, 300, (2, 128, 128))
    cube[:, 40:80, 40:80] += 2000.0
    truth = _write_fits(tmp_path / "truth.fits", cube)
    out = tmp_path / "blos.h5"
    code = main(
        ["simulate", "-q", "-t", "blos", "-o", str(out), "--truth", truth, "--pixel-scale",
         "0.063", "--patches", "10", "--patch-size", "6", "--noise", "0"]
    )
    assert code == 0
    info = check_database(out)
    assert info.attrs["type"] == "blos" and info.attrs["snapshots"] == 2
    assert info.attrs["sources"] == [truth]
    x, _y = _read(out)
    assert 0.3 < np.abs(x).max() < 2.5  # kG
    # Flux (mean) is conserved by the forward model up to the PSF's spill.
    lows, highs = simulate.simulate_pairs([cube[0]], pixel_scale=0.063, kind="blos")
    assert lows[0].shape == (16, 16) and highs[0].shape == (32, 32)
    assert highs[0].mean() == pytest.approx(lows[0].mean(), rel=0.05)


# -- pairs --------------------------------------------------------------------


@pytest.fixture()
def toy_pair(tmp_path):
    rng = np.random.default_rng(5)
    low = rng.uniform(0.5, 1.5, (40, 36))
    high = np.kron(low, np.ones((2, 2)))
    return low, high, _write_fits(tmp_path / "low.fits", low), _write_fits(tmp_path / "high.fits", high)


def _nearest_up(x):
    return np.kron(x, np.ones((2, 2)))


@pytest.mark.parametrize("augment", [True, False])
def test_pairs_aligned(tmp_path, toy_pair, augment):
    low, _, lo, hi = toy_pair
    out = tmp_path / "pairs.h5"
    args = ["pairs", "-q", "-o", str(out), "--low", lo, "--high", hi, "--patches", "30",
            "--patch-size", "6", "--normalization", "none"]
    assert main(args + ([] if augment else ["--no-augment"])) == 0
    x, y = _read(out)
    for n in range(30):
        np.testing.assert_array_equal(y[n, ..., 0], _nearest_up(x[n, ..., 0]))
    if not augment:
        # Every input patch is a patch of the low image.
        windows = np.lib.stride_tricks.sliding_window_view(low.astype(np.float32), (6, 6))
        for n in range(5):
            assert (windows == x[n, ..., 0]).all(axis=(2, 3)).any()
    info = check_database(out)
    assert info.attrs["augment"] is augment and info.attrs["normalization"] == "none"


def test_pairs_dihedral_group():
    a = np.arange(12.0).reshape(3, 4)
    images = [patches.dihedral(a, k) for k in range(8)]
    assert len({im.tobytes() + bytes(im.shape) for im in images}) == 8
    np.testing.assert_array_equal(patches.dihedral(a, 0), a)
    # Each element commutes with nearest upsampling (alignment survives augmentation).
    for k in range(8):
        np.testing.assert_array_equal(patches.dihedral(_nearest_up(a), k), _nearest_up(images[k]))


def test_pairs_blos_sign_flips_and_kg(tmp_path):
    low = np.full((20, 20), 500.0)
    lo = _write_fits(tmp_path / "l.fits", low)
    hi = _write_fits(tmp_path / "h.fits", np.kron(low, np.ones((2, 2))))
    out = tmp_path / "b.h5"
    assert main(["pairs", "-q", "-t", "blos", "-o", str(out), "--low", lo, "--high", hi,
                 "--patches", "40", "--patch-size", "4"]) == 0
    x, y = _read(out)
    values = np.unique(x)
    np.testing.assert_allclose(sorted(values), [-0.5, 0.5])
    signs = np.sign(x[:, 0, 0, 0])
    np.testing.assert_array_equal(np.sign(y[:, 0, 0, 0]), signs)
    assert 5 < (signs > 0).sum() < 35
    info = check_database(out)
    assert info.attrs["sign_flips"] is True and "kG" in info.attrs["normalization"]


def test_pairs_blos_without_sign_flips_keeps_rotations(tmp_path):
    # A bipolar pair: without sign flips every patch keeps its polarity, but the
    # rotations/flips still apply (the positive half moves around).
    low = np.where(np.arange(20)[None, :] < 10, 500.0, -300.0) * np.ones((20, 1))
    lo = _write_fits(tmp_path / "l.fits", low)
    hi = _write_fits(tmp_path / "h.fits", np.kron(low, np.ones((2, 2))))
    out = tmp_path / "b.h5"
    assert main(["pairs", "-q", "-t", "blos", "-o", str(out), "--low", lo, "--high", hi,
                 "--patches", "60", "--patch-size", "20", "--no-sign-flips"]) == 0
    x, y = (a[..., 0] for a in _read(out))
    np.testing.assert_allclose(np.unique(x), [-0.3, 0.5], rtol=1e-6)  # never -0.5 or +0.3
    np.testing.assert_array_equal(y[:, ::2, ::2], x)
    assert len({tuple(np.sign(p[[0, 0, -1, -1], [0, -1, 0, -1]])) for p in x}) == 4
    assert check_database(out).attrs["sign_flips"] is False


def test_pairs_intensity_quiet_sun_normalisation(tmp_path):
    rng = np.random.default_rng(1)
    low = 4000.0 * (1 + 0.04 * rng.standard_normal((30, 30)))
    low[5:10, 5:10] = 800.0  # a dark pore does not move the quiet-Sun level
    lo = _write_fits(tmp_path / "l.fits", low)
    hi = _write_fits(tmp_path / "h.fits", np.kron(low, np.ones((2, 2))))
    out = tmp_path / "i.h5"
    assert main(["pairs", "-q", "-o", str(out), "--low", lo, "--high", hi, "--patches", "20",
                 "--patch-size", "5"]) == 0
    factor = check_database(out).attrs["normalization_factors"][0]
    assert factor == pytest.approx(4000.0, rel=0.01)
    out2 = tmp_path / "i2.h5"
    assert main(["pairs", "-q", "-o", str(out2), "--low", lo, "--high", hi, "--patches", "5",
                 "--patch-size", "5", "--normalization", "2000"]) == 0
    assert check_database(out2).attrs["normalization_factors"] == [2000.0]


def test_pairs_region_and_exclude(toy_pair):
    low = toy_pair[0]
    # Position-coded images: low value = y * 100 + x.
    yy, xx = np.mgrid[: low.shape[0], : low.shape[1]]
    code = (yy * 100 + xx).astype(float)
    x, y, _meta = patches.cut_patches(
        [code], [_nearest_up(code)], kind="blos", n_patches=200, patch_size=4,
        region=(10, 30, 5, 30), exclude=[(15, 20, 0, 40)], augment=False, normalization="none",
    )
    ys = (x // 100).astype(int)
    xs = (x % 100).astype(int)
    assert ys.min() >= 10 and ys.max() < 30 and xs.min() >= 5 and xs.max() < 30
    assert not ((ys >= 15) & (ys < 20)).any()
    assert (ys < 15).any() and (ys >= 20).any()
    np.testing.assert_array_equal(y, np.stack([_nearest_up(p) for p in x]))


def test_pairs_skip_nan_patches():
    low = np.ones((20, 20))
    low[:, 10] = np.nan
    high = _nearest_up(np.ones((20, 20)))
    high[4, 30] = np.nan  # covers low pixel (2, 15)
    x, y, meta = patches.cut_patches(
        [low], [high], kind="intensity", n_patches=50, patch_size=5, augment=False,
        normalization="none",
    )
    assert np.isfinite(x).all() and np.isfinite(y).all()
    corners = meta["corners"]
    # No patch crosses column 10, nor covers low pixel (2, 15).
    assert not ((corners[:, 1] <= 10) & (corners[:, 1] + 5 > 10)).any()
    assert not (
        (corners[:, 0] <= 2) & (corners[:, 0] + 5 > 2) & (corners[:, 1] <= 15) & (corners[:, 1] + 5 > 15)
    ).any()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--region", "0:10,0:10", "--patch-size", "20"], "smaller than the patch size"),
        (["--region", "0:5"], "y0:y1,x0:x1"),
        (["--exclude", "0:40,0:36"], "no 6x6 patch fits"),
        (["--normalization", "abc"], "--normalization"),
    ],
)
def test_pairs_errors(tmp_path, toy_pair, capsys, extra, message):
    _, _, lo, hi = toy_pair
    args = ["pairs", "-o", str(tmp_path / "e.h5"), "--low", lo, "--high", hi, "--patch-size", "6"]
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e.h5").exists()


def test_pairs_shape_mismatch_and_all_nan(tmp_path, capsys):
    lo = _write_fits(tmp_path / "l.fits", np.ones((10, 10)))
    hi = _write_fits(tmp_path / "h.fits", np.ones((20, 18)))
    assert main(["pairs", "-o", str(tmp_path / "e.h5"), "--low", lo, "--high", hi]) == 2
    err = capsys.readouterr().err
    assert "not exactly twice" in err and len(err.strip().splitlines()) == 1
    nan = np.ones((10, 10))
    nan[::3, ::3] = np.nan
    lo2 = _write_fits(tmp_path / "l2.fits", nan)
    hi2 = _write_fits(tmp_path / "h2.fits", np.ones((20, 20)))
    assert main(["pairs", "-o", str(tmp_path / "e.h5"), "--low", lo2, "--high", hi2,
                 "--patch-size", "4"]) == 2
    assert "no 4x4 patch fits" in capsys.readouterr().err


def test_pairs_several_files(tmp_path, toy_pair):
    _, _, lo, hi = toy_pair
    rng = np.random.default_rng(9)
    low2 = rng.uniform(0.5, 1.5, (12, 12))
    lo2 = _write_fits(tmp_path / "l2.fits", low2)
    hi2 = _write_fits(tmp_path / "h2.fits", _nearest_up(low2))
    out = tmp_path / "m.h5"
    assert main(["pairs", "-q", "-o", str(out), "--low", lo, "--low", lo2, "--high", hi, hi2,
                 "--patches", "40", "--patch-size", "6", "--normalization", "none"]) == 0
    info = check_database(out)
    assert info.attrs["low"] == [lo, lo2] and info.n == 40
    x, y = _read(out)
    for n in range(40):
        np.testing.assert_array_equal(y[n, ..., 0], _nearest_up(x[n, ..., 0]))


# -- loss masks for teacher targets -------------------------------------------


def _code_image(ny, nx):
    """Position-coded image: value = y * 100 + x (+1, so no pixel is 0)."""
    yy, xx = np.mgrid[:ny, :nx]
    return (yy * 100 + xx + 1).astype(float)


@pytest.mark.parametrize("augment", [False, True])
def test_pairs_loss_mask_follows_patch_and_image_edges(augment):
    # 20x20 image, 6x6 patches, loss border 4 target px = 2 input px; the last column is a cut.
    code = _code_image(20, 20)
    _x, y, meta = patches.cut_patches(
        [code], [_nearest_up(code)], kind="intensity", n_patches=300, patch_size=6, augment=augment,
        normalization="none", loss_border=4, cut_edges=["last-column"], seed=4,
    )
    mask = meta["mask"]
    assert mask.shape == y.shape and mask.dtype == bool
    for n in range(300):
        ys, xs = (y[n] - 1) // 100, (y[n] - 1) % 100
        y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
        # A target pixel counts if it is 2 input pixels inside every patch side, except
        # sides on the image's first row, last row or first column (not the cut last column).
        expected = (
            ((ys >= y0 + 2) | (y0 == 0)) & ((ys <= y1 - 2) | (y1 == 19))
            & ((xs >= x0 + 2) | (x0 == 0)) & (xs <= x1 - 2)
        )
        np.testing.assert_array_equal(mask[n], expected)


def test_pairs_loss_mask_covers_image_edges_like_the_interior():
    code = _code_image(40, 40)
    _x, _y, meta = patches.cut_patches(
        [code], [_nearest_up(code)], kind="intensity", n_patches=6000, patch_size=10, augment=False,
        normalization="none", loss_border=4, seed=5,
    )
    counts = np.zeros((80, 80))
    for corner, m in zip(meta["corners"], meta["mask"], strict=True):
        i, j = 2 * corner
        counts[i : i + 20, j : j + 20] += m
    interior = counts[20:60, 20:60].mean()
    # Pixels within the loss border of an image edge are counted about as often as interior ones.
    for band in (counts[:4, 20:60], counts[-4:, 20:60], counts[20:60, :4], counts[20:60, -4:]):
        assert 0.75 < band.mean() / interior < 1.33
    # Without a loss border: no mask, uniform positions (the original recipe).
    assert patches.cut_patches([code], [_nearest_up(code)], kind="intensity", n_patches=5,
                                patch_size=10, normalization="none")[2]["mask"] is None


def test_pairs_cli_writes_mask(tmp_path, toy_pair, capsys):
    _, _, lo, hi = toy_pair
    out = tmp_path / "m.h5"
    assert main(["pairs", "-q", "-o", str(out), "--low", lo, "--high", hi, "--patches", "10",
                 "--patch-size", "6", "--loss-border", "2", "--cut-edges", "last-row,last-column"]) == 0
    info = check_database(out)
    assert info.has_mask and info.attrs["loss_border"] == 2
    assert info.attrs["cut_edges"] == ["last-row", "last-column"]
    with h5py.File(out, "r") as f:
        assert f["lossMask"].shape == (10, 12, 12, 1) and f["lossMask"].dtype == np.uint8
    assert main(["pairs", "-o", str(tmp_path / "e.h5"), "--low", lo, "--high", hi, "--patch-size", "6",
                 "--cut-edges", "left"]) == 2
    assert "unknown image edge(s) left" in capsys.readouterr().err
    assert main(["pairs", "-o", str(tmp_path / "e.h5"), "--low", lo, "--high", hi, "--patch-size", "6",
                 "--loss-border", "6"]) == 2
    assert "--loss-border must be between 0 and 5" in capsys.readouterr().err


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


def _with_header(path, **cards):
    with fits.open(path, mode="update") as hdul:
        for key, value in cards.items():
            hdul[0].header[key] = value
    return path


def test_pairs_warn_when_the_headers_say_different_data_types(tmp_path, toy_pair, capsys):
    from enhance_lib.errors import EnhanceUserWarning

    _, _, lo, hi = toy_pair
    opts = {"n_patches": 4, "patch_size": 6, "normalization": "none"}
    pairs.pairs_database(tmp_path / "plain.h5", kind="intensity", low=[lo], high=[hi], **opts)  # no headers: silent
    _with_header(lo, CONTENT="CONTINUUM INTENSITY")
    _with_header(hi, BUNIT="DN/s")
    pairs.pairs_database(tmp_path / "same.h5", kind="intensity", low=[lo], high=[hi], **opts)  # agree: silent
    _with_header(hi, BUNIT="Gauss")
    with pytest.warns(EnhanceUserWarning, match=r"low\.fits and .*high\.fits hold different data types: "
                                                r"intensity \(CONTENT.*\) and blos \(BUNIT = 'Gauss'\)"):
        pairs.pairs_database(tmp_path / "mixed.h5", kind="intensity", low=[lo], high=[hi], **opts)
    _with_header(lo, CONTENT="MAGNETOGRAM")
    with pytest.warns(EnhanceUserWarning, match=r"low\.fits: building a intensity database as asked .* says blos"):
        pairs.pairs_database(tmp_path / "other.h5", kind="intensity", low=[lo], high=[hi], **opts)
    # the command line (outside pytest's warning capture): one line, and the database is written
    import subprocess
    import sys

    _with_header(lo, CONTENT="CONTINUUM INTENSITY")
    out = tmp_path / "cli.h5"
    code = ("import sys, warnings; warnings.resetwarnings(); from enhance_lib.scripts.database import main; "
            f"sys.exit(main(['pairs', '-o', {str(out)!r}, '--low', {lo!r}, '--high', {hi!r}, "
            "'--patch-size', '6', '--patches', '4']))")
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo,
                          env=dict(os.environ, PYTHONPATH=str(repo)))
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "arning" in line]
    assert len(lines) == 1 and lines[0].startswith("enhance-database: warning: ") and "different data types" in lines[0]
    assert check_database(out).n == 4
