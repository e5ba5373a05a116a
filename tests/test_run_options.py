"""The options of a run, written once: checked when made, hashable for Dask, the same from the
program's flags and from the API's keywords."""

import dataclasses
import pickle

import pytest

import enhance_lib
from enhance_lib.errors import EnhanceError
from enhance_lib.run.options import EnhanceOptions
from enhance_lib.scripts.enhance import _options, build_parser


def test_defaults_and_normalisation_by_kind():
    options = EnhanceOptions()
    assert (options.kind, options.precision, options.device, options.compress) == (None, "float32", "auto", "none")
    assert options.normalization_method == ("quiet-sun", None)
    assert EnhanceOptions(kind="blos").normalization_method == ("constant", 1000.0)
    assert EnhanceOptions(kind="blos", normalization="500").normalization_method == ("constant", 500.0)


@pytest.mark.parametrize(("keywords", "message"), [
    ({"kind": "velocity"}, "unknown data type 'velocity'; choose intensity or blos"),
    ({"precision": "float16"}, "unknown `precision` 'float16'; choose float32, bfloat16"),
    ({"device": "tpu"}, "unknown `device` 'tpu'"),
    ({"compress": "zip"}, "unknown `compress` 'zip'"),
    ({"model": "unet"}, "unknown `model` 'unet'"),
    ({"tile": -1}, r"`tile` must be >= 0 \(got -1\)"),
    ({"depth": 2.5}, r"`depth` must be a whole number \(got 2.5\)"),
    ({"filters": 0}, r"`filters` must be >= 1 \(got 0\)"),
    ({"normalization": "median"}, "unknown normalisation 'median'"),
    ({"normalization": -3}, "normalisation constant must be a positive number"),
])
def test_bad_options_fail_when_made(keywords, message):
    with pytest.raises(EnhanceError, match=message):
        EnhanceOptions(**keywords)


def test_frozen_hashable_and_shipped_as_they_are(tmp_path):
    options = EnhanceOptions(kind="intensity", weights=tmp_path / "w.weights.h5", tile=64)
    assert options.weights == str(tmp_path / "w.weights.h5")  # a path becomes its string
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.tile = 128
    copy = pickle.loads(pickle.dumps(options))  # what Dask does
    assert copy == options and hash(copy) == hash(options)
    assert {options: 1}[EnhanceOptions(kind="intensity", weights=str(tmp_path / "w.weights.h5"), tile=64)] == 1
    assert options.replace(tile=0).tile == 0 and options.tile == 64
    with pytest.raises(EnhanceError, match="`tile` must be >= 0"):
        options.replace(tile=-5)


def test_the_flags_and_the_keywords_make_the_same_options(tmp_path):
    args = build_parser().parse_args(["-i", "in.fits", "-o", "o.fits", "-t", "blos", "-w", "w.h5", "-k", "8",
                                      "-n", "2000", "--tile", "256", "--precision", "bfloat16", "--device", "cpu",
                                      "--conserve-flux", "--compress", "rice"])
    assert _options(args) == EnhanceOptions(kind="blos", weights="w.h5", filters=8, normalization="2000", tile=256,
                                            precision="bfloat16", device="cpu", conserve_flux=True, compress="rice")


def test_unknown_keywords_name_the_options():
    with pytest.raises(EnhanceError, match=r"enhance got unknown option\(s\) tiles; the options are activation, "):
        enhance_lib.enhance([[1.0]], tiles=3)
    with pytest.raises(EnhanceError, match=r"Enhancer got unknown option\(s\) colour"):
        enhance_lib.Enhancer(colour="red")
