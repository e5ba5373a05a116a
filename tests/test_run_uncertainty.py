"""Uncertainty maps (UNCNOISE, UNCMODEL, UNCERT): the mechanics, on tiny networks. The calibration
itself is measured by benchmarks/uncertainty.py, not tested here."""

import types

import numpy as np
import pytest
from astropy.io import fits
from scipy import ndimage
from synthetic import assert_one_line_error, hmi_header

from enhance_lib import EnhanceError, Enhancer, enhance, enhance_hdu, enhance_map
from enhance_lib.nets.weights import build_network, inspect_weights
from enhance_lib.run.error_network import ErrorPredictor
from enhance_lib.run.provenance import _uncertainty_keywords
from enhance_lib.run.tiling import Predictor, enhance_array
from enhance_lib.run.uncertainty import SEED, SMOOTH, Calibration, PlaneUncertainty, model_map, noise_map
from enhance_lib.scripts.enhance import main as enhance_main
from enhance_lib.sun.normalization import make_normalizer


def _image(shape=(40, 48), seed=0, level=1.0):
    rng = np.random.default_rng(seed)
    return (level * (1 + 0.05 * ndimage.gaussian_filter(rng.standard_normal(shape), 1.5))).astype(np.float32)


def _predictor(path):
    net, config = build_network(inspect_weights(path), fold=True)
    return Predictor(net, config)


def test_noise_through_a_linear_network_is_the_noise(upsampling_weights):
    """Nearest x2 upsampling copies each input pixel to four: the output's noise is the input's."""
    image = _image((48, 48))
    normalizer = make_normalizer(image, kind="intensity", method="none")
    sigma = 0.01
    uncnoise = noise_map(image, _predictor(upsampling_weights), normalizer, sigma=sigma, draws=8)
    assert uncnoise.shape == (96, 96)
    assert np.mean(uncnoise) == pytest.approx(sigma, rel=0.06)
    assert np.all(np.abs(uncnoise / sigma - 1) < 0.45)
    # more draws converge
    many = noise_map(image, _predictor(upsampling_weights), normalizer, sigma=sigma, draws=32)
    assert np.mean(np.abs(many / sigma - 1)) < np.mean(np.abs(uncnoise / sigma - 1))


def test_noise_follows_a_per_pixel_sigma_and_leaves_nan(upsampling_weights):
    image = _image((48, 48))
    image[10:14, 20:30] = np.nan
    sigma = np.where(np.arange(48)[None, :] < 24, 0.01, 0.03) * np.ones((48, 1))
    normalizer = make_normalizer(image, kind="intensity", method="none")
    before = image.copy()
    uncnoise = noise_map(image, _predictor(upsampling_weights), normalizer, sigma=sigma, draws=8)
    np.testing.assert_array_equal(image, before)  # the caller's array is not modified
    assert np.isnan(uncnoise[20:28, 40:60]).all() and np.isfinite(uncnoise[40:, :]).all()
    left, right = np.nanmedian(uncnoise[:, : 48 - SMOOTH]), np.nanmedian(uncnoise[:, 48 + SMOOTH :])
    assert right / left == pytest.approx(3, rel=0.15)


@pytest.mark.backend
def test_model_map_is_the_error_network_in_the_input_units(tiny_error_weights):
    image = _image(level=1000.0)
    normalizer = make_normalizer(image, kind="blos", method=1000.0)
    predictor = _predictor(tiny_error_weights)
    uncmodel = model_map(image, ErrorPredictor(predictor), normalizer)
    z = predictor.run(image / 1000.0)
    np.testing.assert_allclose(uncmodel, 1000.0 * np.exp(0.5 * z), rtol=2e-5)
    assert 5 < np.median(uncmodel) < 20  # ~0.01 in network units, times 1000


def test_calibration_combines_and_travels_with_the_error_network(tiny_error_weights):
    attrs = inspect_weights(tiny_error_weights).attrs
    faithful = Calibration.from_attrs(attrs)
    assert (faithful.noise, faithful.model) == (1.5, 0.5)
    assert Calibration.from_attrs(attrs, conserve_flux=True).noise == 1.0
    assert Calibration.from_attrs({}) == Calibration()
    np.testing.assert_allclose(faithful.combine(np.array([2.0]), np.array([2.0])), [np.hypot(3.0, 1.0)], rtol=1e-6)
    # each factor on its own map: UNCNOISE 2 and UNCMODEL 4 give hypot(1.5 * 2, 0.5 * 4), not the swap's hypot(6, 1)
    np.testing.assert_allclose(faithful.combine(np.array([2.0]), np.array([4.0])), [np.hypot(3.0, 2.0)], rtol=1e-6)
    assert Calibration(2.0, 1.0).combine(np.array([1.0, 0.0]), np.array([0.0, 1.0])).tolist() == [2.0, 1.0]


@pytest.fixture()
def hmi_file(tmp_path):
    path = tmp_path / "in.fits"
    data = _image((40, 48), seed=2, level=5e4)
    data[5:8, 5:9] = np.nan
    fits.PrimaryHDU(data, hmi_header(cdelt=(0.504, 0.504), bunit="DN/s")).writeto(path)
    return path


@pytest.mark.backend
def test_the_file_gets_three_maps_and_says_how_they_were_made(tmp_path, hmi_file, tiny_weights, tiny_error_weights):
    plain, out = tmp_path / "plain.fits", tmp_path / "out.fits"
    common = ["-i", str(hmi_file), "-t", "intensity", "-w", str(tiny_weights), "-q"]
    assert enhance_main([*common, "-o", str(plain)]) == 0
    assert enhance_main([*common, "-o", str(out), "--uncertainty", "--error-weights", str(tiny_error_weights),
                         "--draws", "4"]) == 0
    with fits.open(out) as hdus, fits.open(plain) as plain_hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "UNCERT", "UNCNOISE", "UNCMODEL"]
        data, header = hdus[0].data, hdus[0].header
        np.testing.assert_array_equal(data, plain_hdus[0].data)  # the output itself does not change
        total, noise, model = (hdus[n].data for n in ("UNCERT", "UNCNOISE", "UNCMODEL"))
        for image in (total, noise, model):
            assert image.shape == data.shape
            np.testing.assert_array_equal(np.isnan(image), np.isnan(data))
        np.testing.assert_allclose(total, np.hypot(1.5 * noise, 0.5 * model), rtol=1e-5)
        assert header["UNCDRAWS"] == 4 and (header["UNCCALN"], header["UNCCALM"]) == (1.5, 0.5)
        # every card whole: no comment cut to fit 80 characters
        assert header.comments["UNCCALN"] == "UNCERT factor of UNCNOISE (HISTORY: how)"
        assert header["ENHNOISE"] > 0 and hdus["UNCERT"].header["BUNIT"] == "DN/s"
        history = " ".join(header["HISTORY"])  # cards split between words
        assert "UNCNOISE = std of the output over 4 Monte-Carlo draws" in history
        assert "tiny_error.weights.h5" in history and "calibration: test" in history
        assert hdus["UNCERT"].header["CDELT1"] == header["CDELT1"]  # the output's grid


def test_a_given_noise_is_used_and_recorded(hmi_file, tiny_weights, tiny_error_weights):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights, uncertainty=True, noise=250.0, draws=2,
                        error_weights=tiny_error_weights)
    enhanced = enhancer.enhance(str(hmi_file))
    assert enhanced.header["ENHNOISE"] == 250.0 and enhanced.input_noise == (250.0,)
    assert any("given: 250 per pixel" in line for line in enhanced.header["HISTORY"])
    assert np.nanmedian(enhanced.uncertainty_noise) > 0


def test_a_cube_an_hdu_and_a_map(tiny_weights, tiny_error_weights, make_map):
    options = dict(kind="intensity", weights=tiny_weights, uncertainty=True, draws=2, error_weights=tiny_error_weights)
    cube = np.stack([_image(seed=k, level=5e4) for k in range(2)])
    enhanced = enhance(cube, **options)
    assert enhanced.uncertainty.shape == enhanced.data.shape == (2, 80, 96)
    assert "ENHS0001" in enhanced.header and "ENHS0002" in enhanced.header
    hdus = enhance_hdu(fits.PrimaryHDU(cube[0], hmi_header(cdelt=(0.504, 0.504))), **options)
    assert [h.name for h in hdus] == ["PRIMARY", "UNCERT", "UNCNOISE", "UNCMODEL"]
    from astropy.nddata import StdDevUncertainty

    smap = enhance_map(make_map(hmi_header(cdelt=(0.504, 0.504), content="CONTINUUM INTENSITY")), **options)
    assert isinstance(smap.uncertainty, StdDevUncertainty) and smap.uncertainty.array.shape == smap.data.shape


def test_a_batch_writes_the_maps(hmi_folder, tmp_path, tiny_weights, tiny_error_weights):
    out = tmp_path / "out"
    assert enhance_main(["-i", str(hmi_folder), "-o", str(out), "-t", "intensity", "-w", str(tiny_weights), "-q",
                         "--uncertainty", "--draws", "2", "--error-weights", str(tiny_error_weights)]) == 0
    for path in sorted(out.glob("*.fits")):
        with fits.open(path) as hdus:
            assert [h.name for h in hdus] == ["PRIMARY", "UNCERT", "UNCNOISE", "UNCMODEL"]


def test_own_weights_need_their_error_network(hmi_file, tmp_path, tiny_weights, capsys):
    code = enhance_main(["-i", str(hmi_file), "-o", str(tmp_path / "o.fits"), "-t", "intensity", "-w",
                         str(tiny_weights), "--uncertainty"])
    assert_one_line_error(code, capsys.readouterr().err, tmp_path / "o.fits",
                          "needs their error network as --error-weights")
    with pytest.raises(EnhanceError, match="not an error model"):
        Enhancer(kind="intensity", weights=tiny_weights, uncertainty=True, error_weights=tiny_weights)


@pytest.mark.parametrize("bad, message", [(["--draws", "1"], "--draws must be >= 2"),
                                          (["--noise", "-3"], "--noise must be a positive number")])
def test_bad_uncertainty_options_are_one_line(hmi_file, tmp_path, bad, message, capsys):
    code = enhance_main(["-i", str(hmi_file), "-o", str(tmp_path / "o.fits"), "--uncertainty", *bad])
    assert_one_line_error(code, capsys.readouterr().err, tmp_path / "o.fits", message)


def test_tiles_do_not_change_the_maps(tiny_weights, tiny_error_weights):
    image = _image((40, 48), seed=6, level=5e4)
    options = dict(kind="intensity", weights=tiny_weights, uncertainty=True, draws=3, error_weights=tiny_error_weights)
    whole = Enhancer(tile=0, **options).enhance(image)
    tiled = Enhancer(tile=16, **options).enhance(image)
    for name in ("data", "uncertainty", "uncertainty_noise", "uncertainty_model"):
        np.testing.assert_allclose(getattr(tiled, name), getattr(whole, name), rtol=2e-4, atol=1e-3)


def test_a_full_disk_has_maps_wherever_it_has_data(full_disk, tiny_weights, tiny_error_weights):
    """The limb treatment applies to the draws and to the error network as to the output."""
    data = full_disk["data"][128:384, 0:160]  # a limb cut-out
    # the disk's centre (0-based column 255.3, row 250.8 of the whole disk) at CRVAL (0, 0)
    header = hmi_header(cdelt=(0.504, 0.504), crpix=(255.3 + 1, 250.8 - 128 + 1), crval=(0.0, 0.0))
    header["RSUN_OBS"] = 200.0 * 0.504
    enhanced = Enhancer(kind="intensity", weights=tiny_weights, uncertainty=True, draws=2,
                        error_weights=tiny_error_weights).enhance(data, header)
    finite = np.isfinite(enhanced.data)
    assert (~finite).any() and finite.any()
    for image in (enhanced.uncertainty, enhanced.uncertainty_noise, enhanced.uncertainty_model):
        np.testing.assert_array_equal(np.isfinite(image), finite)
        assert np.all(image[finite] >= 0)


def _white_draws_before(plane, predictor, normalizer, sigma, draws):
    """noise_map as it was before the draws could be correlated (white deviates times sigma)."""
    from enhance_lib.run.uncertainty import _smooth_variance

    plane = np.asarray(plane, dtype=np.float32)
    rng = np.random.default_rng(SEED)
    outs = [enhance_array(plane + (rng.standard_normal(plane.shape) * sigma).astype(np.float32), predictor,
                          normalizer).astype(np.float64) for _ in range(draws)]
    mean, m2 = outs[0], np.zeros_like(outs[0])
    for k, out in enumerate(outs[1:], 2):
        delta = out - mean
        mean += delta / k
        m2 += delta * (out - mean)
    return np.sqrt(_smooth_variance(m2 / (draws - 1))).astype(np.float32)


def test_white_draws_are_byte_identical_to_before(upsampling_weights):
    image = _image((48, 48))
    normalizer = make_normalizer(image, kind="intensity", method="none")
    predictor = _predictor(upsampling_weights)
    sigma = 0.01 * np.sqrt(image / image.mean())
    before = _white_draws_before(image, predictor, normalizer, sigma, 4)
    np.testing.assert_array_equal(noise_map(image, predictor, normalizer, sigma=sigma, draws=4), before)
    np.testing.assert_array_equal(noise_map(image, predictor, normalizer, sigma=sigma, correlation=0.0, draws=4),
                                  before)


def test_correlated_draws_keep_the_per_pixel_sigma(upsampling_weights):
    """Through nearest x2 upsampling the output's noise is the input's: correlated or not, sigma per pixel."""
    image = _image((64, 64))
    normalizer = make_normalizer(image, kind="intensity", method="none")
    predictor = _predictor(upsampling_weights)
    white = noise_map(image, predictor, normalizer, sigma=0.01, draws=16)
    correlated = noise_map(image, predictor, normalizer, sigma=0.01, correlation=0.7, draws=16)
    assert np.mean(correlated) == pytest.approx(0.01, rel=0.1)
    assert not np.array_equal(white, correlated)


def _network():
    return types.SimpleNamespace(calibration=Calibration(1.5, 0.5, "test"), error_weights="/x/blos_error.weights.h5")


def _maps(sigma, correlation):
    empty = np.zeros((2, 2), np.float32)
    return PlaneUncertainty(empty, empty, empty, sigma, "noise: test", correlation)


def test_the_header_says_how_the_draws_were_correlated():
    header = fits.Header()
    lines = _uncertainty_keywords(header, [_maps(9.5, 0.0)], _network(), draws=8)
    assert header["ENHNCORR"] == 0.0
    assert header.comments["ENHNCORR"] == "noise correlation: Gaussian width, px (0 white)"
    assert lines[1] == ("uncertainty: UNCNOISE = std of the output over 8 Monte-Carlo draws of Gaussian noise of "
                        "ENHNOISE added to the input (white; variance averaged over 5x5 output px)")
    header = fits.Header()
    lines = _uncertainty_keywords(header, [_maps(23.1, 0.7312)], _network(), draws=8)
    assert header["ENHNCORR"] == 0.731 and header["ENHNOISE"] == 23.1
    assert lines[1] == ("uncertainty: UNCNOISE = std of the output over 8 Monte-Carlo draws of Gaussian noise of "
                        "ENHNOISE added to the input (correlated (Gaussian 0.73 px): white noise convolved with it, "
                        "rescaled to ENHNOISE per pixel; variance averaged over 5x5 output px)")
    header = fits.Header()
    lines = _uncertainty_keywords(header, [_maps(9.0, 0.0), None, _maps(20.0, 0.6)], _network(), draws=8)
    assert (header["ENHC0001"], header["ENHC0003"]) == (0.0, 0.6) and "ENHC0002" not in header
    assert ("(correlated as ENHCnnnn says: white noise convolved with a Gaussian, rescaled to ENHNOISE per "
            "pixel;") in lines[1]
    header.tofile(__import__("io").BytesIO())  # every card fits in 80 characters (warnings are errors)
