"""Tests of enhance_lib.io.figures and io.figure_data: the ``--plot`` figure's titles, units, axes,
zoom and downsampled panels, and what it measures, on small synthetic images."""

import itertools

import numpy as np
import pytest
from astropy.io import fits
from synthetic import hmi_header, write_hmi_image

from enhance_lib.io.figure_data import block_mean, rms_contrast, zoom_region
from enhance_lib.io.figures import comparison_figure, plot_comparison
from enhance_lib.scripts.enhance import main as enhance_main


def _pair(shape, *, seed=0, value=1.0, kind="intensity"):
    """An input and a stand-in x2 output (each pixel repeated 2 x 2)."""
    rng = np.random.default_rng(seed)
    if kind == "blos":
        image = (300 * rng.standard_normal(shape)).astype(np.float32)
    else:
        image = (value * (1 + 0.04 * rng.standard_normal(shape))).astype(np.float32)
    return image, np.kron(image, np.ones((2, 2), np.float32))


def _header(*, cdelt=(0.5, 0.6), crpix=(10.0, 12.0), crval=(100.0, -50.0), **extra):
    # unequal x and y scales catch swapped axes
    return hmi_header(cdelt=cdelt, crpix=crpix, crval=None if crpix is None else crval, **extra)


def _images(fig):
    """(axes, image array) of every image panel, top row first."""
    return [(ax, im.get_array()) for ax in fig.axes for im in ax.get_images()]


def _zoomed(fig):
    return [ax for ax in fig.axes if "zoomed" in ax.get_title()]


def _pixels(ax):
    box = ax.get_window_extent()
    return box.height, box.width


@pytest.mark.slow
def test_titles_and_labels_do_not_overlap_on_the_saved_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    original, enhanced = _pair((1024, 1024), value=5e4)
    fig = comparison_figure(original, enhanced, kind="intensity", title="hmi.fits",
                            header=_header(CROTA2=180.0, BUNIT="DN/s"))
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title for ax in fig.axes if ax.get_title()] + [fig._suptitle]
    assert len(titles) == 5  # four panels and the figure's
    others = [t for ax in fig.axes for t in (ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(),
                                             *ax.get_yticklabels()) if t.get_visible() and t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in titles]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    for title, box in zip(titles, boxes, strict=True):
        for other in others:
            assert not box.overlaps(other.get_window_extent(renderer)), (title.get_text(), other.get_text())


def test_magnetogram_numbers_carry_the_unit_and_its_colours_are_symmetric():
    original, enhanced = _pair((60, 50), kind="blos")
    original[3, 4] = 5000.0  # one strong positive pixel must not shift the scale
    fig = comparison_figure(original, enhanced, kind="blos", header=_header(BUNIT="G"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 2 and all(" G" in t.splitlines()[1] for t in titles), titles
    rms = float(titles[0].splitlines()[1].split()[1])
    assert rms == pytest.approx(np.sqrt(np.mean(original.astype(np.float64) ** 2)), abs=0.06)
    (ax, _), *_ = _images(fig)
    vmin, vmax = ax.get_images()[0].get_clim()
    assert vmin == -vmax and vmax > 0
    # no BUNIT: the number says it is in the data's own units
    fig = comparison_figure(original, enhanced, kind="blos", header=fits.Header())
    assert "data units" in fig.axes[0].get_title()


def test_rms_contrast_with_the_input_mask_on_the_output():
    rng = np.random.default_rng(2)
    image = rng.normal(1.0, 0.05, (30, 20))
    mask = rng.random((15, 10)) > 0.3
    full = np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1)
    assert rms_contrast(image, kind="intensity", mask=mask) == rms_contrast(image, kind="intensity", mask=full)
    values = image[full]
    expected = f"quiet-Sun contrast {100 * values.std() / values.mean():.2f} %"
    assert rms_contrast(image, kind="intensity", mask=mask) == expected
    assert rms_contrast(image, kind="blos", unit="G") == f"RMS {np.sqrt(np.mean(image**2)):.1f} G"


@pytest.mark.slow
@pytest.mark.parametrize("turned", [False, True])
def test_axes_in_arcsec_from_the_wcs(turned):
    ny, nx = 40, 48
    header = _header(**({"CROTA2": 179.95} if turned else {}))
    fig = comparison_figure(*_pair((ny, nx)), kind="intensity", header=header)
    (cdelt1, cdelt2), (crpix1, crpix2), (crval1, crval2) = (0.5, 0.6), (10.0, 12.0), (100.0, -50.0)
    # the outer pixel edges: FITS pixel p (1-based) is at CRVAL + CDELT * (p - CRPIX)
    x = (crval1 + cdelt1 * (0.5 - crpix1), crval1 + cdelt1 * (nx + 0.5 - crpix1))
    y = (crval2 + cdelt2 * (0.5 - crpix2), crval2 + cdelt2 * (ny + 0.5 - crpix2))
    if turned:  # CROTA2 ~ 180: the stored image runs east to west right to left; turned, it does not
        x = (2 * crval1 - x[1], 2 * crval1 - x[0])
        y = (2 * crval2 - y[1], 2 * crval2 - y[0])
    for ax, _ in _images(fig):
        assert ax.get_xlabel() == "solar x (arcsec)" and ax.get_ylabel() == "solar y (arcsec)"
        # (CROTA2 = 179.95: the scale along the rows is CDELT1 * cos(CROTA2), 4e-7 less)
        assert ax.get_xlim() == pytest.approx(x, abs=1e-4) and ax.get_ylim() == pytest.approx(y, abs=1e-4)
        assert ax.get_xlim()[1] - ax.get_xlim()[0] == pytest.approx(cdelt1 * nx)
        assert ax.get_ylim()[1] - ax.get_ylim()[0] == pytest.approx(cdelt2 * ny)
        assert len(ax.get_xticks()) > 1 and len(ax.get_yticks()) > 1
    # a pixel's place: the darkest input pixel is drawn where the WCS puts it
    original, _ = _pair((ny, nx))
    original[30, 7] = 0.1
    fig = comparison_figure(original, np.kron(original, np.ones((2, 2), np.float32)), kind="intensity",
                            header=header)
    ax, image = _images(fig)[0]
    row, col = np.unravel_index(np.argmin(image), image.shape)
    left, right, bottom, top = ax.get_images()[0].get_extent()
    shown_x = left + (col + 0.5) * (right - left) / image.shape[1]
    shown_y = bottom + (row + 0.5) * (top - bottom) / image.shape[0]
    sign = -1 if turned else 1
    assert shown_x == pytest.approx(crval1 + sign * cdelt1 * (7 + 1 - crpix1))
    assert shown_y == pytest.approx(crval2 + sign * cdelt2 * (30 + 1 - crpix2))


@pytest.mark.slow
def test_axes_in_pixels_without_angular_units():
    ny, nx = 40, 48
    for header in (None, fits.Header({"CDELT1": 0.5, "CDELT2": 0.5}), _header(CUNIT1="km", CUNIT2="km"),
                   _header(CROTA2=90.0)):
        fig = comparison_figure(*_pair((ny, nx)), kind="intensity", header=header)
        for ax, _ in _images(fig):
            assert ax.get_xlabel() == "column (input pixels)" and ax.get_ylabel() == "row (input pixels)"
            assert ax.get_xlim() == pytest.approx((-0.5, nx - 0.5))
            assert ax.get_ylim() == pytest.approx((-0.5, ny - 0.5))


def test_arcsec_from_the_image_centre_without_a_reference_pixel():
    fig = comparison_figure(*_pair((40, 48)), kind="intensity", header=_header(crpix=None))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "solar x (arcsec, from the image centre)"
    assert ax.get_xlim() == pytest.approx((-12.0, 12.0)) and ax.get_ylim() == pytest.approx((-12.0, 12.0))


@pytest.mark.slow
def test_full_disk_panels_are_downsampled_to_the_figure_and_zoomed():
    """A 1024^2 input: every panel holds at most one image pixel per screen pixel, and a
    zoomed pair shows a region at full resolution."""
    original, enhanced = _pair((1024, 1024), value=5e4)
    yy, xx = np.mgrid[:1024, :1024]
    original[np.hypot(yy - 511.5, xx - 511.5) > 480] = np.nan
    enhanced = np.kron(original, np.ones((2, 2), np.float32))
    before = original.copy()
    fig = comparison_figure(original, enhanced, kind="intensity", header=_header(cdelt=(0.504, 0.504)))
    np.testing.assert_array_equal(original, before)  # the caller's array untouched
    shown = _images(fig)
    assert len(shown) == 4 and len(_zoomed(fig)) == 2
    for ax, image in shown:
        height, width = _pixels(ax)
        assert image.shape[0] <= height and image.shape[1] <= width, (image.shape, height, width)
        assert image.dtype == np.float32
    (_, top_in), (_, top_out), (_, zoom_in), (_, zoom_out) = shown
    assert max(top_in.shape) < 1024 and max(top_out.shape) < 2048  # downsampled
    assert zoom_out.shape == (2 * zoom_in.shape[0], 2 * zoom_in.shape[1])  # full resolution
    assert np.isfinite(zoom_in).all()


@pytest.mark.slow
def test_zoom_exactly_when_a_panel_cannot_show_every_pixel():
    """The rule: a zoomed pair when an image has more pixels than its panel has screen
    pixels (in the saved figure), whatever the image's size or the figure's dpi."""
    seen = set()
    for n, dpi in ((60, 100), (150, 100), (200, 100), (260, 100), (150, 50), (400, 200)):
        original, enhanced = _pair((n, n + n // 4))
        fig = comparison_figure(original, enhanced, kind="intensity", dpi=dpi)
        top = [(ax, image) for ax, image in _images(fig) if "zoomed" not in ax.get_title()]
        fits_panel = all(full <= px for (ax, _), img in zip(top, (original, enhanced), strict=True)
                         for full, px in zip(img.shape, _pixels(ax), strict=True))
        zoomed = _zoomed(fig)
        assert bool(zoomed) != fits_panel, (n, dpi)
        seen.add(bool(zoomed))
        for ax in zoomed:
            (image,) = (im.get_array() for im in ax.get_images())
            height, width = _pixels(ax)
            assert image.shape[0] <= height and image.shape[1] <= width
    assert seen == {True, False}


def test_block_mean_keeps_the_nan_aware_mean():
    rng = np.random.default_rng(3)
    image = rng.normal(10.0, 2.0, (37, 50))
    image[rng.random(image.shape) < 0.2] = np.nan
    image[:4, :4] = np.nan  # a block with no finite pixel
    before = image.copy()
    small = block_mean(image, 4)
    np.testing.assert_array_equal(image, before)
    assert small.shape == (10, 13) and small.dtype == np.float32
    assert np.isnan(small[0, 0])
    for i, j in itertools.product(range(10), range(13)):
        block = image[4 * i:4 * i + 4, 4 * j:4 * j + 4]
        if np.isfinite(block).any():
            assert small[i, j] == pytest.approx(np.nanmean(block), rel=1e-6)
    # weighted by the finite pixels in each block, the blocks' means are the image's mean
    weights = np.array([[np.isfinite(image[4 * i:4 * i + 4, 4 * j:4 * j + 4]).sum() for j in range(13)]
                        for i in range(10)])
    assert np.nansum(small * weights) / weights.sum() == pytest.approx(np.nanmean(image), rel=1e-6)
    np.testing.assert_array_equal(block_mean(before, 1), before.astype(np.float32))


def test_zoom_region_avoids_the_limb_for_the_spot():
    """On a full disk the darkest pixels are partly covered limb pixels: the zoom goes to the spot."""
    n = 400
    yy, xx = np.mgrid[:n, :n]
    r = np.hypot(yy - 199.5, xx - 199.5)
    image = np.where(r < 180, 1.0, np.nan)
    image[(r >= 179) & (r < 180)] = 0.05  # the limb's partly covered pixels
    image[(yy - 120) ** 2 + (xx - 250) ** 2 < 16] = 0.3
    rows, cols = zoom_region(image, kind="intensity", size=64)
    assert np.isfinite(image[rows, cols]).all()
    assert rows.start <= 120 < rows.stop and cols.start <= 250 < cols.stop


def test_plot_comparison_writes_a_png(tmp_path):
    original, enhanced = _pair((30, 40))
    plot_comparison(tmp_path / "f.png", original, enhanced, kind="intensity", header=_header())
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_colour_bar_unit_and_the_turn_are_said():
    original, enhanced = _pair((100, 120))
    fig = comparison_figure(original, enhanced, kind="intensity", title="t",
                            header=fits.Header({"BUNIT": "DN/s", "CROTA2": 180.0}))
    assert any(ax.get_ylabel() == "DN/s" for ax in fig.axes)  # the colour bar
    assert "solar north up" in fig._suptitle.get_text()


def test_log_and_plot_say_rows_by_columns(tmp_path, tiny_weights, capsys):
    write_hmi_image(tmp_path / "in.fits", shape=(40, 48))
    assert enhance_main(["-i", str(tmp_path / "in.fits"), "-o", str(tmp_path / "o.fits"), "-w", str(tiny_weights),
                         "--plot", str(tmp_path / "f.png")]) == 0
    assert "new size 80 x 96 (rows x columns)" in capsys.readouterr().err
    from enhance_lib.io.figure_data import shape_text

    assert shape_text((40, 48)) == "40 x 48 (rows x columns)"


def test_north_up_for_hmi_orientation():
    from enhance_lib.io.figures import north_up

    assert north_up(fits.Header({"CROTA2": 179.93}))
    assert north_up(fits.Header({"CROTA2": -180.1}))
    assert not north_up(fits.Header({"CROTA2": 0.2}))
    assert north_up(fits.Header({"PC1_1": -1.0, "PC1_2": 0.001, "PC2_1": -0.001, "PC2_2": -1.0}))
    assert not north_up(None) and not north_up(fits.Header())


def test_quiet_sun_contrast_ignores_limb_darkening():
    """The figure's contrast of a limb-darkened disk is that of its granulation."""
    from enhance_lib.io.figure_data import quiet_sun_mask, rms_contrast

    rng = np.random.default_rng(0)
    n, radius = 256, 120
    yy, xx = np.mgrid[:n, :n]
    mu = np.sqrt(np.clip(1 - ((yy - 128) ** 2 + (xx - 128) ** 2) / radius**2, 0, 1))
    profile = 1 - 0.6 * (1 - mu)
    local = 1 + 0.04 * rng.standard_normal((n, n))
    image = np.where(mu > 0, profile * local, np.nan)
    local = np.where(mu > 0, local, np.nan)
    whole = float(rms_contrast(image, kind="intensity").split()[1])
    quiet = float(rms_contrast(local, kind="intensity", mask=quiet_sun_mask(local)).split()[2])
    assert whole > 10  # limb darkening counted as contrast
    assert quiet == pytest.approx(4.0, abs=0.3)


def test_zoom_region_centres_on_the_spot_and_avoids_nan():
    from enhance_lib.io.figure_data import zoom_region

    image = np.ones((600, 700))
    image[:, :40] = np.nan
    image[300:310, 500:510] = 0.2
    image[5, 45] = 0.1  # darker, but its block would reach the NaN columns
    rows, cols = zoom_region(image, kind="intensity", size=128)
    block = image[rows, cols]
    assert block.shape == (128, 128) and np.isfinite(block).all() and block.min() <= 0.2
    assert rows.start <= 300 and rows.stop >= 310 and cols.start <= 500 and cols.stop >= 510
