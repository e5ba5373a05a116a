"""The enhance command end to end: outputs, headers, legacy equivalence, errors."""

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from synthetic import hmi_header

import enhance
from enhance_lib.scripts.enhance import main as enhance_main


def _hmi_like(path, shape=(24, 30), *, nan=False, value=1.0):
    rng = np.random.default_rng(0)
    data = (value * (1 + 0.04 * rng.standard_normal(shape))).astype("float32")
    if nan:
        data[:3, :4] = np.nan
    header = hmi_header(crpix=(7.3, 11.8), crval=(-250.0, 180.0), crota2=12.0, TELESCOP="SDO/HMI", bunit="DN/s")
    fits.PrimaryHDU(data, header=header).writeto(path)
    return data


def _run(capsys, *argv):
    code = enhance_main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def test_script_exposes_main():
    assert enhance.main is enhance_main


def test_help_documents_every_flag(capsys):
    assert enhance_main(["-h"]) == 0
    out = capsys.readouterr().out
    for flag in ("--input", "--out", "--type", "--weights", "--depth", "--kernels", "--model",
                 "--activation", "--normalization", "--tile", "--precision", "--plot", "--quiet"):
        assert flag in out


def test_help_says_where_bfloat16_is_faster_as_the_performance_guide_measured(capsys):
    assert enhance_main(["-h"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("bfloat16 (~1 % relative error; faster only where the hardware computes in it: 2.5x on a Xeon with "
            "AMX, 0.6x (slower) on one with AVX512-BF16 and no AMX; not measured on GPUs; see "
            "docs/guide/performance.md)") in out
    guide = " ".join((Path(__file__).parent.parent / "docs/guide/performance.md").read_text().split())
    assert "2.49x faster than float32 on this Xeon, which has AMX, and **slower** (0.61x)" in guide


@pytest.mark.backend
def test_enhance_writes_x2_image_with_wcs_history_and_enhnorm(tmp_path, upsampling_weights, capsys):
    src, dst = tmp_path / "in.fits", tmp_path / "out" / "res.fits"
    data = _hmi_like(src, nan=True, value=1000.0)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", upsampling_weights, "--quiet", "--tile", "10")
    assert code == 0, err
    assert err == ""
    with fits.open(dst) as hdul:
        out, header = hdul[0].data, hdul[0].header
    assert out.shape == (48, 60)
    np.testing.assert_array_equal(np.isnan(out), np.kron(np.isnan(data), np.ones((2, 2), bool)))
    assert header["CDELT1"] == pytest.approx(0.252) and header["CDELT2"] == pytest.approx(0.275)
    assert header["TELESCOP"] == "SDO/HMI" and header["BUNIT"] == "DN/s"
    assert header["ENHNORM"] == pytest.approx(1000.0, rel=0.02)  # quiet-Sun level
    history = " ".join(str(h) for h in header["HISTORY"])
    assert "enhance_lib" in history and "nearest.weights.h5" in history and "keepsize" in history
    w_in, w_out = WCS(fits.getheader(src)), WCS(header)
    ys, xs = np.mgrid[0:24:5, 0:30:7]
    a = w_in.pixel_to_world_values(xs, ys)
    b = w_out.pixel_to_world_values(2 * xs + 0.5, 2 * ys + 0.5)
    np.testing.assert_allclose(a, b, atol=1e-9)
    # The network is nearest x2 upsampling: normalising and de-normalising must give back
    # exactly the input's values, in the input's units, on the x2 grid.
    expected = np.kron(data, np.ones((2, 2)))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-5)


@pytest.mark.backend
def test_cube_is_enhanced_plane_by_plane(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "cube.fits", tmp_path / "cube_x2.fits"
    rng = np.random.default_rng(1)
    cube = (1 + 0.05 * rng.standard_normal((3, 12, 14))).astype("float32")
    cube[1] *= 3
    fits.PrimaryHDU(cube).writeto(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-q", "-n", "none")
    assert code == 0, err
    out = fits.getdata(dst)
    assert out.shape == (3, 24, 28)
    single = tmp_path / "plane.fits"
    fits.PrimaryHDU(cube[1]).writeto(single)
    assert _run(capsys, "-i", single, "-o", tmp_path / "plane_x2.fits", "-w", tiny_weights, "-q", "-n", "none")[0] == 0
    np.testing.assert_allclose(out[1], fits.getdata(tmp_path / "plane_x2.fits"), rtol=1e-6)


def test_plot_is_written(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.fits"
    _hmi_like(src)
    code, err = _run(capsys, "-i", src, "-o", tmp_path / "o.fits", "-w", tiny_weights, "-q",
                     "--plot", tmp_path / "fig.png")
    assert code == 0, err
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name, magic", [("fig.pdf", b"%PDF-"), ("fig.svg", b"<?xml"), ("FIG.PNG", b"\x89PNG")])
def test_the_figure_is_written_in_the_format_its_name_says(tmp_path, tiny_weights, capsys, name, magic):
    src = tmp_path / "in.fits"
    _hmi_like(src)
    code, err = _run(capsys, "-i", src, "-o", tmp_path / "o.fits", "-w", tiny_weights, "-q", "--plot", tmp_path / name)
    assert code == 0, err
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert sorted(os.listdir(tmp_path)) == sorted(["in.fits", "o.fits", name])


@pytest.mark.parametrize("name, problem", [
    ("fig", "the figure's name has no ending; give one ending in .png, .pdf, .svg (its format)"),
    ("fig.jpeg", "the figure's name ends in .jpeg; give one ending in .png, .pdf, .svg (its format)"),
    ("a_file/fig.pdf", "cannot write the figure there: cannot create the output folder ({tmp}/a_file is a file)"),
    ("a_folder", "the figure's name has no ending; give one ending in .png, .pdf, .svg (its format)"),
    ("a_folder.png", "cannot write the figure there: output is a folder, not a file (give a file name)"),
])
def test_a_figure_that_cannot_be_written_fails_before_any_work(tmp_path, tiny_weights, capsys, name, problem):
    """Checked with the output, before the input is read: one line, nothing written."""
    src, dst = tmp_path / "in.fits", tmp_path / "o.fits"
    _hmi_like(src)
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_folder.png").mkdir()
    before = sorted(os.listdir(tmp_path))
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "--plot", tmp_path / name)
    assert code == 2
    assert err.splitlines() == [f"enhance: error: {tmp_path / name}: {problem.format(tmp=tmp_path)}"]
    assert sorted(os.listdir(tmp_path)) == before  # no output, no figure, no temporary


# The original divided intensity by the image maximum and magnetograms by 1000 G (our blos default).
@pytest.mark.backend
@pytest.mark.parametrize(
    "sample, published, kind, weights, norm",
    [
        ("hmi_sample_left.fits", "hmi_sample_left.legacy_out.fits", "intensity", "intensity_weights_only.hdf5", "max"),
        ("blos_sample_left.fits", "blos_sample_left.legacy_out.fits", "blos", "blos_whole_model.hdf5", "1000"),
    ],
)
def test_legacy_weights_reproduce_the_original_program(shared_data, tmp_path, capsys, sample, published, kind,
                                                        weights, norm):
    dst = tmp_path / "out.fits"
    code, err = _run(
        capsys, "-i", shared_data / sample, "-o", dst, "-t", kind,
        "-w", shared_data / "legacy" / weights, "--normalization", norm, "-q",
    )
    assert code == 0, err
    ours = fits.getdata(dst).astype(np.float64)
    theirs = fits.getdata(shared_data / "legacy" / published).astype(np.float64)
    assert ours.shape == theirs.shape
    rel = np.sqrt(np.mean((ours - theirs) ** 2)) / np.sqrt(np.mean(theirs**2))
    assert rel < 1e-5


# ---- errors: one line, exit code 2, nothing written ----

def _assert_clean_error(code, err, dst, *words):
    """Exit code 2 and one error line, the last one; lines before it can only be the log's
    progress lines (e.g. which data type the header gave), never a traceback."""
    assert code == 2
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("enhance: error:")]
    assert errors == lines[-1:], err
    assert all(": data type " in line for line in lines[:-1]), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[-1]
    assert not os.path.exists(dst)


def test_missing_input(tmp_path, tiny_weights, capsys):
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", tmp_path / "nope.fits", "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "nope.fits")


def test_not_a_fits_file(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "notes.fits", tmp_path / "o.fits"
    src.write_text("hello")
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "notes.fits")
    # astropy's advice to its Python callers (ignore_missing_simple=True) is not for a user of the program
    assert err.splitlines() == [f"enhance: error: {src}: not a readable FITS file (No SIMPLE card found, this file "
                                "does not appear to be a valid FITS file)"]


def test_no_image_data(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "empty.fits", tmp_path / "o.fits"
    fits.PrimaryHDU().writeto(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "empty.fits")


def test_all_nan(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "nan.fits", tmp_path / "o.fits"
    fits.PrimaryHDU(np.full((8, 8), np.nan, "float32")).writeto(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "nan.fits")


def test_one_dimensional(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "line.fits", tmp_path / "o.fits"
    fits.PrimaryHDU(np.ones(10, "float32")).writeto(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "line.fits", "1-D")


def test_unknown_type(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.fits", tmp_path / "o.fits"
    _hmi_like(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-t", "velocity", "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "velocity")


def test_corrupt_weights(tmp_path, capsys):
    src, dst, bad = tmp_path / "in.fits", tmp_path / "o.fits", tmp_path / "bad.weights.h5"
    _hmi_like(src)
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", bad)
    _assert_clean_error(code, err, dst, "bad.weights.h5")


def test_mismatched_depth(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.fits", tmp_path / "o.fits"
    _hmi_like(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-d", "5")
    _assert_clean_error(code, err, dst, "tiny.weights.h5", "depth")


def test_missing_default_weights_says_how_to_pass_them(tmp_path, capsys, monkeypatch):
    src, dst = tmp_path / "in.fits", tmp_path / "o.fits"
    _hmi_like(src)
    monkeypatch.setattr("enhance_lib.run.enhancer.default_weights", lambda kind: tmp_path / f"{kind}.weights.h5")
    code, err = _run(capsys, "-i", src, "-o", dst)
    _assert_clean_error(code, err, dst, "--weights")


def test_unwritable_output(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.fits"
    _hmi_like(src)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    dst = blocker / "o.fits"
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-q")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_output_equal_to_input_is_refused(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.fits"
    data = _hmi_like(src)
    code, err = _run(capsys, "-i", src, "-o", src, "-w", tiny_weights)
    assert code == 2 and "input" in err
    np.testing.assert_array_equal(fits.getdata(src), data)


def test_existing_output_survives_a_failure(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.fits", tmp_path / "o.fits"
    _hmi_like(src)
    dst.write_bytes(b"previous result")
    code, _err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-d", "7")
    assert code == 2
    assert dst.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_bad_normalisation(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.fits", tmp_path / "o.fits"
    _hmi_like(src)
    for value in ("abc", "-3"):
        code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-n", value)
        _assert_clean_error(code, err, dst, value)


def test_replacing_an_output_is_said_and_no_clobber_leaves_it(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "i.fits", tmp_path / "o.fits"
    _hmi_like(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    assert code == 0 and f"wrote {dst}\n" in err and "replaced" not in err
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    assert code == 0 and f"wrote {dst} (replaced the file that was there)" in err
    dst.write_bytes(b"kept")
    for flag in ("--no-clobber", "--skip-existing"):
        code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, flag)
        assert code == 0 and f"{dst} exists: left as it is (--no-clobber)" in err
        assert dst.read_bytes() == b"kept"


def test_a_batch_summary_counts_the_replaced(tmp_path, tiny_weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _hmi_like(folder / "a.fits")
    _hmi_like(folder / "b.fits")
    assert _run(capsys, "-i", folder, "-o", tmp_path / "out", "-w", tiny_weights)[0] == 0
    (tmp_path / "out" / "b.fits").unlink()
    code, err = _run(capsys, "-i", folder, "-o", tmp_path / "out", "-w", tiny_weights)
    assert code == 0 and "2 done (1 replacing files that were there), 0 skipped, 0 failed" in err


def test_an_image_smaller_than_the_reach_is_refused(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "tiny.fits", tmp_path / "o.fits"
    _hmi_like(src, shape=(3, 3))
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    # the reach is read from the weights file: refused before the network is built (no "network ..." line)
    assert code == 2 and not dst.exists()
    assert err.splitlines() == [
        f"{src}: data type intensity, from the header (BUNIT = 'DN/s')",
        f"enhance: error: {src}: image is 3 x 3 pixels, smaller than the network's reach (11 x 11: each output pixel "
        "depends on the input up to 5 pixels away), so the output would be made mostly from the padding at its "
        "edges; enhance a larger region"]
    _hmi_like(tmp_path / "eleven.fits", shape=(11, 40))  # the reach itself is enough
    assert _run(capsys, "-i", tmp_path / "eleven.fits", "-o", dst, "-w", tiny_weights)[0] == 0


def test_failed_runs_leave_no_folders(tmp_path, tiny_weights, capsys):
    bad = tmp_path / "bad.fits"
    bad.write_text("not FITS")
    code, err = _run(capsys, "-i", bad, "-o", tmp_path / "new" / "deeper" / "o.fits", "-w", tiny_weights)
    _assert_clean_error(code, err, tmp_path / "new", "bad.fits")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.fits").write_text("not FITS either")
    code, err = _run(capsys, "-i", folder, "-o", tmp_path / "outs", "-w", tiny_weights)
    assert code == 1 and not (tmp_path / "outs").exists()
    # an output under a file is refused before anything is read
    (tmp_path / "afile").write_text("")
    code, err = _run(capsys, "-i", bad, "-o", tmp_path / "afile" / "sub" / "o.fits", "-w", tiny_weights)
    _assert_clean_error(code, err, tmp_path / "afile" / "sub", "is a file")


@pytest.mark.parametrize("out", ["newdir/", "existing"])
def test_an_output_folder_for_one_input_keeps_its_name(tmp_path, tiny_weights, capsys, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    _hmi_like(tmp_path / "hmi.fits")
    code, err = _run(capsys, "-i", "hmi.fits", "-o", out, "-w", tiny_weights)
    assert code == 0, err
    assert fits.getdata(tmp_path / out.rstrip("/") / "hmi.fits").shape == (48, 60)


def test_a_batch_output_named_like_a_fits_file_is_a_usage_error(tmp_path, tiny_weights, capsys):
    for k in range(2):
        _hmi_like(tmp_path / f"i{k}.fits")
    dst = tmp_path / "name.fits"
    code, err = _run(capsys, "-i", tmp_path / "i0.fits", tmp_path / "i1.fits", "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "with several inputs the output is a folder")


def test_a_cube_plane_without_data_comes_out_nan(tmp_path, tiny_weights, capsys):
    from enhance_lib.errors import EnhanceUserWarning

    src, dst = tmp_path / "cube.fits", tmp_path / "cube_x2.fits"
    rng = np.random.default_rng(1)
    cube = (1 + 0.05 * rng.standard_normal((3, 12, 14))).astype("float32")
    cube[1] = np.nan
    fits.PrimaryHDU(cube).writeto(src)
    with pytest.warns(EnhanceUserWarning, match=r"plane 2 of 3 \(counted from 1, as ENHNnnnn\) has no finite "
                      r"pixels; its output is all NaN"):
        code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    assert code == 0, err
    with fits.open(dst) as hdul:
        out, header = hdul[0].data, hdul[0].header
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()
    assert "ENHN0001" in header and "ENHN0003" in header and "ENHN0002" not in header
    assert "normalisation, plane 2: none (no finite pixels: output all NaN)" in str(header["HISTORY"])
    cube[0] = np.nan  # the figure shows the first plane with data
    fits.PrimaryHDU(cube).writeto(tmp_path / "cube0.fits")
    with pytest.warns(EnhanceUserWarning) as record:
        code, err = _run(capsys, "-i", tmp_path / "cube0.fits", "-o", tmp_path / "c0.fits", "-w", tiny_weights,
                         "--plot", tmp_path / "c0.png")
    assert ["plane 1 of 3" in str(w.message) for w in record] == [True, False]
    assert code == 0 and (tmp_path / "c0.png").stat().st_size > 0, err
    # the figure shows one plane, and says which: in its title (and the PNG's Title) and the log
    from PIL import Image

    with Image.open(tmp_path / "c0.png") as figure:
        assert figure.text["Title"] == "cube0.fits: plane 3 of 3, the first with data"  # planes 1 and 2 are NaN
    assert f"wrote {tmp_path / 'c0.png'} (plane 3 of 3, the first with data)" in err.splitlines()
    single = tmp_path / "plane.fits"
    fits.PrimaryHDU(cube[2]).writeto(single)
    assert _run(capsys, "-i", single, "-o", tmp_path / "plane_x2.fits", "-w", tiny_weights, "-q")[0] == 0
    np.testing.assert_allclose(out[2], fits.getdata(tmp_path / "plane_x2.fits"), rtol=1e-6)


def test_a_dopplergram_is_refused_by_name(tmp_path, tiny_weights, capsys):
    from enhance_lib.errors import EnhanceUserWarning

    src, dst = tmp_path / "dop.fits", tmp_path / "o.fits"
    data = np.random.default_rng(2).normal(0, 500, (30, 30)).astype("float32")
    fits.PrimaryHDU(data, header=fits.Header({"CONTENT": "DOPPLERGRAM", "BUNIT": "cm/s"})).writeto(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "velocity maps are not a data type these networks enhance "
                        "(CONTENT = 'DOPPLERGRAM')", "--type")
    fits.PrimaryHDU(data, header=fits.Header({"BUNIT": "cm/s"})).writeto(tmp_path / "v.fits")
    code, err = _run(capsys, "-i", tmp_path / "v.fits", "-o", dst, "-w", tiny_weights)
    _assert_clean_error(code, err, dst, "velocity maps", "BUNIT = 'cm/s'")
    with pytest.warns(EnhanceUserWarning, match="enhancing as blos as asked, but the header says velocity"):
        assert _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-t", "blos")[0] == 0
