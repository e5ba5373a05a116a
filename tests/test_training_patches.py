"""Tests of enhance_lib.training.patches: cutting patch pairs (the dihedral group, regions, NaN, the loss mask)."""


import numpy as np
import pytest
from synthetic import code_image, nearest_up

from enhance_lib.training import patches


def test_pairs_dihedral_group():
    a = np.arange(12.0).reshape(3, 4)
    images = [patches.dihedral(a, k) for k in range(8)]
    assert len({im.tobytes() + bytes(im.shape) for im in images}) == 8
    np.testing.assert_array_equal(patches.dihedral(a, 0), a)
    # Each element commutes with nearest upsampling (alignment survives augmentation).
    for k in range(8):
        np.testing.assert_array_equal(patches.dihedral(nearest_up(a), k), nearest_up(images[k]))


def test_pairs_region_and_exclude(toy_pair):
    low = toy_pair[0]
    # Position-coded images: low value = y * 100 + x.
    yy, xx = np.mgrid[: low.shape[0], : low.shape[1]]
    code = (yy * 100 + xx).astype(float)
    x, y, _meta = patches.cut_patches(
        [code], [nearest_up(code)], kind="blos", n_patches=200, patch_size=4,
        region=(10, 30, 5, 30), exclude=[(15, 20, 0, 40)], augment=False, normalization="none",
    )
    ys = (x // 100).astype(int)
    xs = (x % 100).astype(int)
    assert ys.min() >= 10 and ys.max() < 30 and xs.min() >= 5 and xs.max() < 30
    assert not ((ys >= 15) & (ys < 20)).any()
    assert (ys < 15).any() and (ys >= 20).any()
    np.testing.assert_array_equal(y, np.stack([nearest_up(p) for p in x]))


def test_pairs_skip_nan_patches():
    low = np.ones((20, 20))
    low[:, 10] = np.nan
    high = nearest_up(np.ones((20, 20)))
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


@pytest.mark.parametrize("augment", [False, True])
def test_pairs_loss_mask_follows_patch_and_image_edges(augment):
    # 20x20 image, 6x6 patches, loss border 4 target px = 2 input px; the last column is a cut.
    code = code_image(20, 20)
    _x, y, meta = patches.cut_patches(
        [code], [nearest_up(code)], kind="intensity", n_patches=300, patch_size=6, augment=augment,
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
    code = code_image(40, 40)
    _x, _y, meta = patches.cut_patches(
        [code], [nearest_up(code)], kind="intensity", n_patches=6000, patch_size=10, augment=False,
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
    assert patches.cut_patches([code], [nearest_up(code)], kind="intensity", n_patches=5,
                                patch_size=10, normalization="none")[2]["mask"] is None
