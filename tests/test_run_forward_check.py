"""The forward check: every output put back through HMI's PSF and pixels and compared with its input
(ENHFWD, the RESIDUAL HDU, the in-domain level and its warning)."""

import shutil
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage, signal
from synthetic import hmi_header

from enhance_lib import EnhanceDomainWarning, Enhancer, enhance, enhance_hdu
from enhance_lib.instrument.forward_model import resample, to_hmi
from enhance_lib.nets.weights import inspect_weights, stamp_attrs
from enhance_lib.run.forward_check import (
    DOMAIN_ATTR,
    DOMAIN_FACTOR,
    MIN_WEIGHT,
    DomainLevel,
    _decimated_convolution,
    _kernel,
    forward_check,
    forward_to_input,
    pooled_percent,
)
from enhance_lib.scripts.enhance import main as enhance_main


def _scene(shape=(96, 80), seed=0, smooth=2.0):
    """A smooth positive scene on the output's grid (the 'Sun at 0.252"')."""
    rng = np.random.default_rng(seed)
    return (1 + 0.2 * ndimage.gaussian_filter(rng.standard_normal(shape), smooth)).astype(np.float32)


def test_forward_model_is_the_training_forward_model():
    """The fast decimated convolution is to_hmi (HMI PSF at 0.252", then 0.504" pixels) exactly."""
    scene = _scene()
    forward, weight = forward_to_input(scene)
    expected = to_hmi(scene.astype(np.float64), pixel_scale=0.252, out_scale=0.504)
    assert forward.shape == (48, 40) and np.all(weight == 1)
    np.testing.assert_allclose(forward, expected, rtol=0, atol=2e-6)


def _whole_image_convolution(image, kernel, factor):
    """The decimated convolution on the whole padded image at once (scipy's oaconvolve), as
    forward_to_input computed it before it went band by band: the numbers it must give."""
    c = (kernel.shape[0] - factor) // 2
    finite = np.isfinite(image)
    results = []
    for part in (np.where(finite, image, np.float32(0)), finite.astype(np.float32)):
        full = signal.oaconvolve(np.pad(part, c, mode="symmetric"), kernel, mode="valid")
        results.append(full[::factor, ::factor][: image.shape[0] // factor, : image.shape[1] // factor])
    return results


@pytest.mark.parametrize("shape", [(600, 640), (1302, 522), (700, 120), (700, 12), (120, 700), (96, 80), (1001, 999)])
def test_the_banded_convolution_is_the_whole_image_one_to_the_bit(shape):
    """Band by band (images taller than oaconvolve's 256-pixel blocks) or whole (smaller ones),
    the same float32 numbers as oaconvolve on the whole image: the same blocks, FFTs, sums and
    order, with NaN and inf, an all-NaN region (blocks whose convolution is computed once), a
    region of exact zeros (an output off the disk) and an odd size."""
    rng = np.random.default_rng(sum(shape))
    image = (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    image[rng.random(shape) < 0.01] = np.nan
    image[: shape[0] // 3, : shape[1] // 2] = np.nan
    image[-shape[0] // 4 :, -shape[1] // 3 :] = 0.0
    image[5, 7] = np.inf
    kernel = _kernel(2)
    forward, weight = _decimated_convolution(image, kernel, 2)
    expected = _whole_image_convolution(image, kernel, 2)
    assert forward.dtype == weight.dtype == np.float32
    np.testing.assert_array_equal(forward.view(np.int32), expected[0].view(np.int32))
    np.testing.assert_array_equal(weight.view(np.int32), expected[1].view(np.int32))
    # a complete image has no mask to convolve
    complete = np.nan_to_num(image, nan=1.0, posinf=1.0)
    forward, weight = _decimated_convolution(complete, kernel, 2)
    assert weight is None
    expected = _whole_image_convolution(complete, kernel, 2)[0]
    np.testing.assert_array_equal(forward.view(np.int32), expected.view(np.int32))


def test_a_full_disk_check_is_the_whole_image_one():
    """On a disk with NaN off the limb, 0 on finite pixels just off it (as limb_output makes
    them), the forward check, its compared pixels and its residual are those of the whole-image
    convolution exactly."""
    n = 700
    y, x = np.mgrid[:n, :n]
    r = np.hypot(x - 351.3, y - 347.8)
    output = _scene((n, n), seed=3)
    output[r > 300] = 0.0
    output[r > 306] = np.nan
    observed = to_hmi(np.nan_to_num(output).astype(np.float64), pixel_scale=0.252, out_scale=0.504).astype(np.float32)
    observed[np.isnan(output[::2, ::2])] = np.nan
    check = forward_check(observed, output, residual=True)
    summed, weight = _whole_image_convolution(output, _kernel(2), 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        forward = np.where(weight > 1e-3, summed / weight, np.float32(np.nan))
    compared = np.isfinite(observed) & np.isfinite(forward) & (weight >= MIN_WEIGHT)
    expected = np.where(compared, forward - observed, np.float32(np.nan))
    assert check.pixels == int(compared.sum()) > 0
    np.testing.assert_array_equal(check.residual.view(np.int32), expected.view(np.int32))


def test_an_output_that_explains_its_input_passes_and_one_that_does_not_fails():
    scene = _scene()
    observed = to_hmi(scene.astype(np.float64), pixel_scale=0.252, out_scale=0.504).astype(np.float32)
    assert forward_check(observed, scene).percent < 1e-3
    # the nearest upsampling of the input does not explain it: the PSF is not undone
    nearest = np.kron(observed, np.ones((2, 2), np.float32))
    blurred = forward_check(observed, nearest).percent
    assert blurred > 100 * 0.1 * np.std(observed) / np.sqrt(np.mean(observed**2))
    # the paper's RMS(HMI(out) - in) / RMS(in), with the forward model of training
    back = to_hmi(nearest.astype(np.float64), pixel_scale=0.252, out_scale=0.504)
    expected = 100 * np.sqrt(np.mean((back - observed) ** 2) / np.mean(observed.astype(np.float64) ** 2))
    assert forward_check(observed, nearest).percent == pytest.approx(expected, rel=1e-5)


def test_a_region_limits_the_comparison():
    """A consistent pair passes inside a region; a wrong gain fails by its size; a region of
    bad pixels is left out when the region excludes it."""
    rng = np.random.default_rng(1)
    truth = np.kron(rng.normal(size=(40, 40)), np.ones((4, 4)))  # 0.126"/px
    x2 = resample(truth, from_scale=0.126, to_scale=0.252).astype(np.float32)
    hmi = to_hmi(x2.astype(np.float64), pixel_scale=0.252).astype(np.float32)
    inner = (slice(10, -10), slice(10, -10))
    check = forward_check(hmi, x2, region=inner)
    assert check.percent < 1e-4 and check.pixels == 20 * 20
    assert forward_check(hmi, 1.5 * x2, region=inner).percent == pytest.approx(50, rel=1e-4)
    spoiled = x2.copy()
    spoiled[:2] = 100.0  # the first input row is wrong, and the PSF core carries it ~5 rows in
    assert forward_check(hmi, spoiled).percent > 100
    assert forward_check(hmi, spoiled, region=inner).percent < 1e-3  # only the far wings reach it


def test_missing_pixels_are_left_out_not_filled():
    scene = _scene()
    observed = to_hmi(scene.astype(np.float64), pixel_scale=0.252, out_scale=0.504).astype(np.float32)
    holed, output = observed.copy(), scene.copy()
    holed[20:26, 10:30] = np.nan
    output[40:52, 20:60] = np.nan
    check = forward_check(holed, output, residual=True)
    assert np.isnan(check.residual[20:26, 10:30]).all()
    # pixels whose PSF reaches the hole are renormalised, not darkened by a zero fill
    assert check.percent < 1.0
    assert 0 < check.pixels < observed.size - 6 * 20
    np.testing.assert_array_equal(observed[np.isfinite(observed)], observed[np.isfinite(observed)])


def test_the_caller_arrays_are_not_modified():
    scene = _scene()
    observed = scene[::2, ::2].copy()
    before = (scene.copy(), observed.copy())
    forward_check(observed, scene, residual=True)
    np.testing.assert_array_equal(scene, before[0])
    np.testing.assert_array_equal(observed, before[1])


def test_pooled_percent_is_the_check_of_the_images_together():
    scenes = [_scene(seed=k) for k in range(3)]
    pairs = [(s[::2, ::2] * (1 + 0.01 * k), s) for k, s in enumerate(scenes)]
    stacked = pooled_percent(pairs)
    single = [forward_check(x, y).percent for x, y in pairs]
    assert min(single) <= stacked <= max(single)


def test_every_output_file_records_its_check(tmp_path, tiny_weights):
    header = hmi_header(cdelt=(0.504, 0.504), bunit="DN/s")
    data = (5e4 * _scene((40, 48), seed=3)[::1, ::1]).astype(np.float32)
    fits.PrimaryHDU(data, header).writeto(tmp_path / "in.fits")
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "out.fits"), "-t", "intensity",
                         "-w", str(tiny_weights), "--residual", "--quiet"]) == 0
    with fits.open(tmp_path / "out.fits") as hdus:
        out, out_header = hdus[0].data, hdus[0].header
        residual, residual_header = hdus["RESIDUAL"].data, hdus["RESIDUAL"].header
    expected = forward_check(data, out, residual=True)
    assert out_header["ENHFWD"] == pytest.approx(expected.percent, abs=1e-4)
    assert any("forward check (ENHFWD)" in line for line in out_header["HISTORY"])
    # the residual is on the input's grid, in its units and with its sky coordinates
    assert residual.shape == data.shape and residual_header["BUNIT"] == "DN/s"
    np.testing.assert_allclose(residual, expected.residual, rtol=1e-6, atol=1e-6)
    pixels = np.array([[0, 0], [47, 39], [12.5, 30]])
    np.testing.assert_allclose(WCS(residual_header).wcs_pix2world(pixels, 0), WCS(header).wcs_pix2world(pixels, 0))
    # without --residual: the value, not the image
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "plain.fits"), "-t", "intensity",
                         "-w", str(tiny_weights), "--quiet"]) == 0
    with fits.open(tmp_path / "plain.fits") as hdus:
        assert len(hdus) == 1 and hdus[0].header["ENHFWD"] == out_header["ENHFWD"]


def test_compressed_outputs_carry_the_residual(tmp_path, tiny_weights):
    header = hmi_header(cdelt=(0.504, 0.504))
    fits.PrimaryHDU(_scene((40, 48), seed=4), header).writeto(tmp_path / "in.fits")
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "out.fits"), "-t", "intensity",
                         "-w", str(tiny_weights), "--residual", "--compress", "gzip", "--quiet"]) == 0
    with fits.open(tmp_path / "out.fits") as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "COMPRESSED_IMAGE", "RESIDUAL"]
        assert hdus["RESIDUAL"].data.shape == (40, 48)


def test_a_cube_records_every_plane(tiny_weights):
    cube = np.stack([_scene((40, 48), seed=k)[::1] for k in range(3)])
    cube[1] *= 1.5
    cube[2] = np.nan
    with pytest.warns(UserWarning, match="plane 3 of 3 .* has no finite pixels"):
        enhanced = Enhancer(kind="intensity", weights=tiny_weights, residual=True).enhance(cube)
    header = enhanced.header
    assert enhanced.residual.shape == cube.shape and np.isnan(enhanced.residual[2]).all()
    for k in (0, 1):
        assert header[f"ENHF{k + 1:04d}"] == pytest.approx(forward_check(cube[k], enhanced.data[k]).percent,
                                                           abs=1e-4)
    assert "ENHF0003" not in header
    assert header["ENHFWD"] == max(header["ENHF0001"], header["ENHF0002"])


def test_the_array_and_hdu_doors_give_the_residual(tiny_weights):
    image = _scene((40, 48), seed=5)
    plain = enhance(image, kind="intensity", weights=tiny_weights)
    enhanced = enhance(image, kind="intensity", weights=tiny_weights, residual=True)
    np.testing.assert_array_equal(enhanced.data, plain)
    assert enhanced.residual.shape == image.shape
    assert enhanced.forward_percent[0] == pytest.approx(enhanced.header["ENHFWD"], abs=1e-4)
    hdus = enhance_hdu(fits.PrimaryHDU(image, hmi_header(cdelt=(0.504, 0.504))), kind="intensity",
                       weights=tiny_weights, residual=True)
    assert [h.name for h in hdus] == ["PRIMARY", "RESIDUAL"]
    np.testing.assert_allclose(hdus["RESIDUAL"].data, enhanced.residual, rtol=1e-6, atol=1e-7)


@pytest.fixture()
def leveled_weights(tmp_path, upsampling_weights):
    """The nearest-upsampling network with an in-domain level measured on smooth scenes."""
    path = tmp_path / "nearest.weights.h5"
    shutil.copyfile(upsampling_weights, path)
    smooth = [_scene((48, 40), seed=k, smooth=3.0) for k in range(3)]
    percent = pooled_percent((s, np.kron(s, np.ones((2, 2), np.float32))) for s in smooth)
    stamp_attrs(path, {DOMAIN_ATTR: DomainLevel(percent, "smooth test scenes").to_attr()})
    return path


def test_the_level_travels_with_the_weights(leveled_weights):
    level = DomainLevel.from_attrs(inspect_weights(leveled_weights).attrs)
    assert level.measured_on == "smooth test scenes" and level.limit == pytest.approx(level.factor * level.percent)


def test_in_domain_images_stay_quiet_and_others_are_reported(leveled_weights):
    """Nearest upsampling explains a smooth image (the PSF barely changes it) but not a sharp one:
    the sharp image is beyond the level learnt on smooth ones, and says so in one warning."""
    enhancer = Enhancer(kind="intensity", weights=leveled_weights, normalization="none")
    smooth = _scene((48, 40), seed=7, smooth=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, header = enhancer.enhance_header(smooth)
    assert "ENHFWDL" in header and any("within" in line for line in header["HISTORY"])
    sharp = _scene((48, 40), seed=7, smooth=0.7)
    with pytest.warns(EnhanceDomainWarning, match=r"forward check .* in-domain level .*already deconvolved"):
        _, header = enhancer.enhance_header(sharp)
    assert header["ENHFWD"] > header["ENHFWDL"] * 1.3
    assert any("BEYOND" in line for line in header["HISTORY"])


def test_weights_without_a_level_report_nothing(tiny_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, header = Enhancer(kind="intensity", weights=tiny_weights).enhance_header(_scene((40, 48)))
    assert "ENHFWDL" not in header
    assert any("no in-domain level" in line for line in header["HISTORY"])


def test_an_image_is_reported_above_1_3x_the_level_its_weights_store():
    """The factor of weights that store none is DOMAIN_FACTOR, 1.3: a binned magnetogram (1.59x its
    level, ``benchmarks/forward.py``) is reported, the in-domain spread (up to the level) is not."""
    level = DomainLevel.from_attrs({DOMAIN_ATTR: {"percent": 2.0, "measured_on": "test scenes"}})
    assert level.factor == DOMAIN_FACTOR == 1.3 and level.limit == pytest.approx(2.6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert level.check(2.0, source="in-domain") is False
        assert level.check(2.59, source="just within") is False
    with pytest.warns(EnhanceDomainWarning, match=r"binned: forward check 3\.2 % is 1\.6x the network's in-domain "):
        assert level.check(3.18, source="binned") is True
    # a factor the weights store is theirs
    stored = DomainLevel.from_attrs({DOMAIN_ATTR: {"percent": 2.0, "measured_on": "x", "factor": 2.0}})
    assert stored.limit == 4.0 and stored.check(3.18, source="binned") is False

