"""Many files through one network: outputs as single runs, failures, resume, folders and globs."""


import numpy as np
import pytest
from astropy.io import fits
from synthetic import assert_one_line_error, write_hmi_file

from enhance_lib.errors import EnhanceError
from enhance_lib.run.batch import enhance_files, expand_inputs, output_paths
from enhance_lib.run.enhancer import Enhancer
from enhance_lib.scripts.enhance import main as enhance_main


def _run(capsys, *argv):
    code = enhance_main([str(a) for a in argv])
    return code, capsys.readouterr().err


def _without_history(header):
    """The header without HISTORY, COMMENT and DATE (when the file was written)."""
    return {k: v for k, v in header.items() if k not in ("HISTORY", "COMMENT", "DATE")}


def test_batch_equals_single_runs(hmi_folder, tmp_path, tiny_weights, capsys):
    code, err = _run(capsys, "-i", hmi_folder, "-o", tmp_path / "out", "-w", tiny_weights, "-q")
    assert code == 0, err
    for k in range(3):
        single = tmp_path / f"single_{k}.fits"
        assert _run(capsys, "-i", hmi_folder / f"hmi_{k}.fits", "-o", single, "-w", tiny_weights, "-q")[0] == 0
        with fits.open(tmp_path / "out" / f"hmi_{k}.fits") as a, fits.open(single) as b:
            np.testing.assert_array_equal(a[0].data, b[0].data)
            assert _without_history(a[0].header) == _without_history(b[0].header)
            assert a[0].header["OBSNUM"] == k


def test_a_bad_file_does_not_stop_the_batch(hmi_folder, tmp_path, tiny_weights, capsys):
    (hmi_folder / "hmi_1b.fits").write_text("not a FITS file")
    out = tmp_path / "out"
    code, err = _run(capsys, "-i", hmi_folder, "-o", out, "-w", tiny_weights, "-q")
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits"]
    lines = err.strip().splitlines()
    assert len([line for line in lines if "hmi_1b.fits" in line]) == 1
    assert "Traceback" not in err
    assert lines[-1].startswith("3 done, 0 skipped, 1 failed")


def test_skip_existing_leaves_outputs_untouched(hmi_folder, tmp_path, tiny_weights, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hmi_1.fits").write_bytes(b"an earlier result")
    assert _run(capsys, "-i", hmi_folder, "-o", out, "-w", tiny_weights, "-q", "--skip-existing")[0] == 0
    assert (out / "hmi_1.fits").read_bytes() == b"an earlier result"
    assert fits.getdata(out / "hmi_2.fits").shape == (60, 72)
    # without it, existing outputs are replaced
    assert _run(capsys, "-i", hmi_folder, "-o", out, "-w", tiny_weights, "-q")[0] == 0
    assert fits.getdata(out / "hmi_1.fits").shape == (60, 72)


def test_inputs_from_files_folders_and_patterns(hmi_folder, tmp_path):
    (hmi_folder / "notes.txt").write_text("")
    write_hmi_file(hmi_folder / "other.fts", 5)
    files, batch = expand_inputs([str(hmi_folder)])
    assert batch and [f.split("/")[-1] for f in files] == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits", "other.fts"]
    files, batch = expand_inputs([str(hmi_folder / "hmi_*.fits")])
    assert batch and len(files) == 3
    assert expand_inputs([str(hmi_folder / "hmi_0.fits")]) == ([str(hmi_folder / "hmi_0.fits")], False)
    assert expand_inputs([str(hmi_folder / "hmi_0.fits"), str(hmi_folder / "hmi_1.fits")])[1]
    with pytest.raises(EnhanceError, match="no file matches"):
        expand_inputs([str(hmi_folder / "*.nothing")])
    assert output_paths(["a/x.fits", "b/y.fits.gz"], "out") == ["out/x.fits", "out/y.fits"]
    with pytest.raises(EnhanceError, match="would both be written"):
        output_paths(["a/x.fits", "b/x.fits"], "out")


def test_usage_errors_of_a_batch(hmi_folder, tmp_path, tiny_weights, capsys):
    code, err = _run(capsys, "-i", hmi_folder, "-o", hmi_folder, "-w", tiny_weights)
    assert code == 2 and "output folder is an input folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "file.fits").write_bytes(b"")
    code, err = _run(capsys, "-i", hmi_folder / "hmi_0.fits", hmi_folder / "hmi_1.fits", "-o", tmp_path / "file.fits",
                     "-w", tiny_weights)
    assert code == 2 and "output must be a folder" in err


# --- files that lie and memory that runs out ---------------------------------------------


def _lie(path, nx=200000, ny=200000):
    """Rewrite a file's header to promise ``nx`` x ``ny`` pixels: a corrupt download."""
    raw = bytearray(path.read_bytes())
    for key, value in (("NAXIS1", nx), ("NAXIS2", ny)):
        at = raw.index(key.ljust(8).encode() + b"= ")
        raw[at:at + 80] = f"{key:<8}= {value:>20}".ljust(80).encode()
    path.write_bytes(bytes(raw))


def test_lying_header_is_one_line(hmi_folder, tmp_path, tiny_weights, capsys):
    src, dst = hmi_folder / "hmi_0.fits", tmp_path / "o.fits"
    _lie(src)
    code, err = _run(capsys, "-i", src, "-o", dst, "-w", tiny_weights, "-q")
    assert_one_line_error(code, err, dst, str(src), "200000 x 200000 pixels of 32-bit data (160 GB)",
                          "truncated or corrupt")


def test_image_too_large_for_the_memory_is_one_line(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    from enhance_lib.io import fits as fitsio

    monkeypatch.setattr(fitsio, "available_memory", lambda: 10_000)
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", hmi_folder / "hmi_0.fits", "-o", dst, "-w", tiny_weights, "-q")
    assert_one_line_error(code, err, dst, "hmi_0.fits", "36 x 30 pixels",
                          "of memory to enhance, but 10 kB is available")


def test_a_lying_file_does_not_stop_the_batch(hmi_folder, tmp_path, tiny_weights, capsys):
    write_hmi_file(hmi_folder / "hmi_1b.fits", 7)
    _lie(hmi_folder / "hmi_1b.fits")
    out = tmp_path / "out"
    code, err = _run(capsys, "-i", hmi_folder, "-o", out, "-w", tiny_weights, "-q")
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["hmi_0.fits", "hmi_1.fits", "hmi_2.fits"]
    lines = err.strip().splitlines()
    assert [line for line in lines if "hmi_1b.fits" in line] == [
        f"enhance: error: {hmi_folder / 'hmi_1b.fits'}: header promises 200000 x 200000 pixels of 32-bit data (160 GB) "
        "but the file holds only 5.76 kB after the header: truncated or corrupt"  # 30 x 36 x 4 bytes, padded
    ]
    assert "Traceback" not in err
    assert lines[-1].startswith("3 done, 0 skipped, 1 failed")


def _memory_runs_out_for(monkeypatch, shape):
    """The network runs out of memory on planes of ``shape`` (numpy's MemoryError), on others it runs."""
    import enhance_lib.run.enhancer as enhancer  # where the Enhancer finds enhance_array

    real = enhancer.enhance_array

    def enhance_array(plane, *args, **kwargs):
        if plane.shape == shape:
            raise MemoryError("Unable to allocate 4 GiB for an array")
        return real(plane, *args, **kwargs)

    monkeypatch.setattr(enhancer, "enhance_array", enhance_array)


def test_out_of_memory_fails_one_file_of_a_batch(hmi_folder, tmp_path, tiny_weights, monkeypatch):
    write_hmi_file(hmi_folder / "hmi_1b.fits", 7, shape=(40, 44))
    _memory_runs_out_for(monkeypatch, (40, 44))
    inputs = sorted(hmi_folder.glob("*.fits"))
    outcomes = enhance_files(Enhancer(kind="intensity", weights=tiny_weights), inputs,
                             output_paths(inputs, tmp_path / "out"))
    assert [o.status for o in outcomes] == ["done", "done", "failed", "done"]
    assert outcomes[2].message == ("out of memory enhancing the image of 44 x 40 pixels (0.00704 MB as float32; "
                                   "its x2 output is 4 times that)")
    assert not (tmp_path / "out" / "hmi_1b.fits").exists()


def test_a_bare_memory_error_fails_one_file_of_a_batch(hmi_folder, tmp_path, tiny_weights):
    # An enhancer of another making that lets a MemoryError through: the batch goes on.
    class LeakyEnhancer(Enhancer):
        def predict(self, prepared, **kwargs):
            if prepared.source.endswith("hmi_1.fits"):
                raise MemoryError
            return super().predict(prepared, **kwargs)

    inputs = sorted(hmi_folder.glob("*.fits"))
    outcomes = enhance_files(LeakyEnhancer(kind="intensity", weights=tiny_weights), inputs,
                             output_paths(inputs, tmp_path / "out"))
    assert [(o.status, o.message) for o in outcomes] == [("done", ""), ("failed", "out of memory"), ("done", "")]


def test_out_of_memory_in_one_run_is_one_line(hmi_folder, tmp_path, tiny_weights, capsys, monkeypatch):
    _memory_runs_out_for(monkeypatch, (30, 36))
    dst = tmp_path / "o.fits"
    code, err = _run(capsys, "-i", hmi_folder / "hmi_0.fits", "-o", dst, "-w", tiny_weights, "-q")
    assert_one_line_error(code, err, dst, "hmi_0.fits: out of memory enhancing the image of 36 x 30 pixels")
