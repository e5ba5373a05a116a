"""The Enhancer: the one object that runs the network for the program, batches, workers and the API;
the weights file read once, the network built once."""

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.io import fits

from enhance_lib import EnhanceUserWarning
from enhance_lib.nets import models, weights
from enhance_lib.run import enhancer as enhancer_module
from enhance_lib.run.batch import enhance_files, output_paths
from enhance_lib.run.enhancer import Enhancer
from enhance_lib.scripts.enhance import main as enhance_main


def test_enhancer_from_python(hmi_folder, tmp_path, tiny_weights):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    inputs = sorted(hmi_folder.glob("*.fits"))
    outcomes = enhance_files(enhancer, inputs, output_paths(inputs, tmp_path / "o"))
    assert [o.status for o in outcomes] == ["done"] * 3
    single = enhancer.enhance_file(inputs[0], tmp_path / "one.fits")
    np.testing.assert_array_equal(single.data, fits.getdata(tmp_path / "o" / "hmi_0.fits"))


@pytest.mark.parametrize(
    "flags, warned", [(set(), True), ({"avx512_bf16"}, True), ({"avx512_bf16", "amx_bf16"}, False)]
)
def test_bfloat16_on_a_cpu_without_amx_says_so(monkeypatch, tiny_weights, flags, warned):
    import enhance_lib.nets.backend as backend
    from enhance_lib.run.enhancer import Enhancer

    monkeypatch.setattr(backend, "cpu_flags", lambda: flags)
    if warned:
        with pytest.warns(EnhanceUserWarning, match="bfloat16 will not be faster on this CPU") as record:
            Enhancer(kind="intensity", weights=tiny_weights, precision="bfloat16", device="cpu")
        # the page the message points to has the measurement
        (page,) = re.findall(r"docs/guide/\w+\.md", str(record[0].message))
        text = (Path(__file__).resolve().parent.parent / page).read_text()
        assert "bfloat16" in text and "no AMX" in text and "0.61x" in text
    else:
        Enhancer(kind="intensity", weights=tiny_weights, precision="bfloat16", device="cpu")
    Enhancer(kind="intensity", weights=tiny_weights, precision="float32", device="cpu")  # float32: never


@pytest.fixture()
def counted(monkeypatch):
    """Count Keras models built and HDF5 files opened."""
    counts = {"models": 0, "opens": 0}
    real_build, real_file = models.build_model, h5py.File

    def build_model(*args, **kwargs):
        counts["models"] += 1
        return real_build(*args, **kwargs)

    class File(real_file):
        def __init__(self, *args, **kwargs):
            counts["opens"] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(models, "build_model", build_model)
    monkeypatch.setattr(weights.h5py, "File", File)
    return counts


def _image(seed=0, shape=(40, 36)):
    return (1 + 0.04 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def test_three_arrays_one_model_one_read(tiny_weights, counted):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    outputs = [enhancer.enhance(_image(seed)) for seed in range(3)]
    assert counted == {"models": 1, "opens": 1}
    assert all(out.shape == (80, 72) for out in outputs)


def test_one_file_through_the_program_one_model_one_read(tmp_path, tiny_weights, counted):
    fits.PrimaryHDU(_image()).writeto(tmp_path / "in.fits")
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "o.fits"), "-w", str(tiny_weights),
                         "-q"]) == 0
    assert counted == {"models": 1, "opens": 1}


def test_two_data_types_one_model_each(tmp_path, tiny_weights, counted):
    enhancer = Enhancer(weights=tiny_weights)  # the data type from each header
    enhancer.enhance(_image(), fits.Header({"CONTENT": "CONTINUUM INTENSITY"}))
    enhancer.enhance(100 * _image(1), fits.Header({"CONTENT": "MAGNETOGRAM"}))
    enhancer.enhance(_image(2), fits.Header({"CONTENT": "CONTINUUM INTENSITY"}))
    assert sorted(enhancer._networks) == ["blos", "intensity"]
    assert counted == {"models": 2, "opens": 1}


def test_an_array_is_no_file_and_builds_no_header(tiny_weights, monkeypatch):
    """Arrays are prepared as they are (no stand-in file), and no header is made for a result
    that returns none."""
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    monkeypatch.setattr(enhancer_module, "output_header", lambda *a, **k: pytest.fail("a header was built"))
    monkeypatch.setattr(enhancer_module, "read_image", lambda *a: pytest.fail("a file was read"))
    prepared = enhancer.prepare_data(_image(), source="array")
    assert prepared.hdu_index is None and prepared.source == "array" and len(prepared.header) == 0
    assert enhancer.enhance(_image()).shape == (80, 72)


def test_the_file_and_the_array_doors_agree(tmp_path, tiny_weights):
    header = fits.Header({"CUNIT1": "arcsec", "CUNIT2": "arcsec", "CDELT1": 0.504, "CDELT2": 0.504,
                          "CRPIX1": 10.5, "CRPIX2": 12.0, "BUNIT": "DN/s"})
    fits.PrimaryHDU(_image(), header=header).writeto(tmp_path / "in.fits")
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    from_file = enhancer.enhance_file(tmp_path / "in.fits", tmp_path / "o.fits")
    data, out_header = enhancer.enhance_header(_image(), header)
    np.testing.assert_array_equal(from_file.data, data)
    written = fits.getheader(tmp_path / "o.fits")
    for key in ("CDELT1", "CRPIX1", "CRPIX2", "ENHNORM", "ENHFWD", "NAXIS1", "NAXIS2"):
        assert written[key] == out_header[key]
