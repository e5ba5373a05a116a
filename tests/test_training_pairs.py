"""Tests of enhance_lib.training.pairs: databases of co-aligned low/high-resolution pairs."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from synthetic import nearest_up, read_database, with_header, write_fits

from enhance_lib.errors import EnhanceUserWarning
from enhance_lib.scripts.database import main
from enhance_lib.training import pairs
from enhance_lib.training.database_file import check_database


@pytest.mark.parametrize("augment", [True, False])
def test_pairs_aligned(tmp_path, toy_pair, augment):
    low, _, lo, hi = toy_pair
    out = tmp_path / "pairs.h5"
    args = ["pairs", "-q", "-o", str(out), "--low", lo, "--high", hi, "--patches", "30",
            "--patch-size", "6", "--normalization", "none"]
    assert main(args + ([] if augment else ["--no-augment"])) == 0
    x, y = read_database(out)
    for n in range(30):
        np.testing.assert_array_equal(y[n, ..., 0], nearest_up(x[n, ..., 0]))
    if not augment:
        # Every input patch is a patch of the low image.
        windows = np.lib.stride_tricks.sliding_window_view(low.astype(np.float32), (6, 6))
        for n in range(5):
            assert (windows == x[n, ..., 0]).all(axis=(2, 3)).any()
    info = check_database(out)
    assert info.attrs["augment"] is augment and info.attrs["normalization"] == "none"


def test_pairs_blos_sign_flips_and_kg(tmp_path):
    low = np.full((20, 20), 500.0)
    lo = write_fits(tmp_path / "l.fits", low)
    hi = write_fits(tmp_path / "h.fits", np.kron(low, np.ones((2, 2))))
    out = tmp_path / "b.h5"
    assert main(["pairs", "-q", "-t", "blos", "-o", str(out), "--low", lo, "--high", hi,
                 "--patches", "40", "--patch-size", "4"]) == 0
    x, y = read_database(out)
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
    lo = write_fits(tmp_path / "l.fits", low)
    hi = write_fits(tmp_path / "h.fits", np.kron(low, np.ones((2, 2))))
    out = tmp_path / "b.h5"
    assert main(["pairs", "-q", "-t", "blos", "-o", str(out), "--low", lo, "--high", hi,
                 "--patches", "60", "--patch-size", "20", "--no-sign-flips"]) == 0
    x, y = (a[..., 0] for a in read_database(out))
    np.testing.assert_allclose(np.unique(x), [-0.3, 0.5], rtol=1e-6)  # never -0.5 or +0.3
    np.testing.assert_array_equal(y[:, ::2, ::2], x)
    assert len({tuple(np.sign(p[[0, 0, -1, -1], [0, -1, 0, -1]])) for p in x}) == 4
    assert check_database(out).attrs["sign_flips"] is False


def test_pairs_intensity_quiet_sun_normalisation(tmp_path):
    rng = np.random.default_rng(1)
    low = 4000.0 * (1 + 0.04 * rng.standard_normal((30, 30)))
    low[5:10, 5:10] = 800.0  # a dark pore does not move the quiet-Sun level
    lo = write_fits(tmp_path / "l.fits", low)
    hi = write_fits(tmp_path / "h.fits", np.kron(low, np.ones((2, 2))))
    out = tmp_path / "i.h5"
    assert main(["pairs", "-q", "-o", str(out), "--low", lo, "--high", hi, "--patches", "20",
                 "--patch-size", "5"]) == 0
    factor = check_database(out).attrs["normalization_factors"][0]
    assert factor == pytest.approx(4000.0, rel=0.01)
    out2 = tmp_path / "i2.h5"
    assert main(["pairs", "-q", "-o", str(out2), "--low", lo, "--high", hi, "--patches", "5",
                 "--patch-size", "5", "--normalization", "2000"]) == 0
    assert check_database(out2).attrs["normalization_factors"] == [2000.0]


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
    lo = write_fits(tmp_path / "l.fits", np.ones((10, 10)))
    hi = write_fits(tmp_path / "h.fits", np.ones((20, 18)))
    assert main(["pairs", "-o", str(tmp_path / "e.h5"), "--low", lo, "--high", hi]) == 2
    err = capsys.readouterr().err
    assert "not exactly twice" in err and len(err.strip().splitlines()) == 1
    nan = np.ones((10, 10))
    nan[::3, ::3] = np.nan
    lo2 = write_fits(tmp_path / "l2.fits", nan)
    hi2 = write_fits(tmp_path / "h2.fits", np.ones((20, 20)))
    assert main(["pairs", "-o", str(tmp_path / "e.h5"), "--low", lo2, "--high", hi2,
                 "--patch-size", "4"]) == 2
    assert "no 4x4 patch fits" in capsys.readouterr().err


def test_pairs_several_files(tmp_path, toy_pair):
    _, _, lo, hi = toy_pair
    rng = np.random.default_rng(9)
    low2 = rng.uniform(0.5, 1.5, (12, 12))
    lo2 = write_fits(tmp_path / "l2.fits", low2)
    hi2 = write_fits(tmp_path / "h2.fits", nearest_up(low2))
    out = tmp_path / "m.h5"
    assert main(["pairs", "-q", "-o", str(out), "--low", lo, "--low", lo2, "--high", hi, hi2,
                 "--patches", "40", "--patch-size", "6", "--normalization", "none"]) == 0
    info = check_database(out)
    assert info.attrs["low"] == [lo, lo2] and info.n == 40
    x, y = read_database(out)
    for n in range(40):
        np.testing.assert_array_equal(y[n, ..., 0], nearest_up(x[n, ..., 0]))


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


def test_pairs_warn_when_the_headers_say_different_data_types(tmp_path, toy_pair, capsys):

    _, _, lo, hi = toy_pair
    opts = {"n_patches": 4, "patch_size": 6, "normalization": "none"}
    pairs.pairs_database(tmp_path / "plain.h5", kind="intensity", low=[lo], high=[hi], **opts)  # no headers: silent
    with_header(lo, CONTENT="CONTINUUM INTENSITY")
    with_header(hi, BUNIT="DN/s")
    pairs.pairs_database(tmp_path / "same.h5", kind="intensity", low=[lo], high=[hi], **opts)  # agree: silent
    with_header(hi, BUNIT="Gauss")
    with pytest.warns(EnhanceUserWarning, match=r"low\.fits and .*high\.fits hold different data types: "
                                                r"intensity \(CONTENT.*\) and blos \(BUNIT = 'Gauss'\)"):
        pairs.pairs_database(tmp_path / "mixed.h5", kind="intensity", low=[lo], high=[hi], **opts)
    with_header(lo, CONTENT="MAGNETOGRAM")
    with pytest.warns(EnhanceUserWarning, match=r"low\.fits: building a intensity database as asked .* says blos"):
        pairs.pairs_database(tmp_path / "other.h5", kind="intensity", low=[lo], high=[hi], **opts)
    # the command line (outside pytest's warning capture): one line, and the database is written
    import subprocess
    import sys

    with_header(lo, CONTENT="CONTINUUM INTENSITY")
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
