"""Training data: patches from a database in batches, the split, the losses."""

import pickle

import numpy as np
import pytest
from synthetic import toy_pairs

from enhance_lib.errors import EnhanceError
from enhance_lib.nets.backend import to_numpy
from enhance_lib.training.data import PatchDataset, masked_mse, split_indices
from enhance_lib.training.database_file import write_database

pytestmark = pytest.mark.backend


def test_dataset_batches_channel0_float32(tmp_path):
    x, y = toy_pairs(10, channels=2)
    x[..., 1] = 99.0
    y[..., 1] = 99.0
    path = tmp_path / "db.h5"
    write_database(path, x.astype(np.float64), y)
    ds = PatchDataset(path, [1, 3, 4, 7, 9], batch_size=2)
    assert ds._h5 is None  # opened lazily
    assert len(ds) == 3 and ds.batch_sizes() == [2, 2, 1]
    xb, yb = ds[0]
    assert xb.dtype == np.float32 and yb.dtype == np.float32
    assert xb.shape == (2, 8, 8, 1) and yb.shape == (2, 16, 16, 1)
    np.testing.assert_array_equal(xb, x[[1, 3], :, :, :1])
    np.testing.assert_array_equal(yb, y[[1, 3], :, :, :1])
    assert ds[2][0].shape == (1, 8, 8, 1)
    with pytest.raises(IndexError):
        ds[3]
    clone = pickle.loads(pickle.dumps(ds))  # the open handle is not pickled
    np.testing.assert_array_equal(clone[1][0], ds[1][0])
    ds.close()
    clone.close()


def test_dataset_shuffles_each_epoch_reproducibly(toy_db):
    def epoch_orders(seed, epochs=3, start=0):
        ds = PatchDataset(toy_db, np.arange(20), batch_size=6, shuffle=True, seed=seed, epoch=start)
        orders = []
        for epoch in range(start, start + epochs):
            ds.on_epoch_end()  # Keras's hooks do not move the epoch (they differ between backends)
            ds.on_epoch_begin()
            ds.set_epoch(epoch)
            batches = [ds.batch_indices(i) for i in range(len(ds))]
            assert all(np.all(np.diff(b) > 0) for b in batches)  # sorted for h5py
            flat = np.concatenate(batches)
            assert sorted(flat.tolist()) == list(range(20))  # each patch once per epoch
            orders.append(flat)
        return orders

    a, b = epoch_orders(5), epoch_orders(5)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], a[1])
    # a resumed run (initial epoch 1) sees the same orders as the uninterrupted one
    np.testing.assert_array_equal(epoch_orders(5, epochs=1, start=1)[0], a[1])


def test_split_indices():
    tr, va = split_indices(24, 0.25)
    np.testing.assert_array_equal(tr, np.arange(18))
    np.testing.assert_array_equal(va, np.arange(18, 24))
    assert split_indices(10, 0.01)[1].tolist() == [9]  # at least one
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(EnhanceError, match="between 0 and 1"):
            split_indices(10, bad)
    with pytest.raises(EnhanceError, match="none for training"):
        split_indices(1, 0.5)


def test_masked_mse_is_the_mean_over_kept_pixels():
    rng = np.random.default_rng(3)
    target, pred = rng.normal(size=(2, 3, 6, 6, 1)).astype(np.float32)
    mask = (rng.random((3, 6, 6, 1)) < 0.5).astype(np.float32)
    got = to_numpy(masked_mse(np.concatenate([target, mask], axis=-1), pred))
    for n in range(3):
        keep = mask[n, ..., 0] > 0
        assert got[n] == pytest.approx(np.mean((target[n, ..., 0] - pred[n, ..., 0])[keep] ** 2), rel=1e-5)


@pytest.mark.backend
def test_border_mse_ignores_the_patch_edges():
    from enhance_lib.training.data import border_mse

    assert border_mse(0) == "mse"
    loss = border_mse(3)
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(2, 16, 16, 1)).astype(np.float32)
    y_pred = y_true.copy()
    y_pred[:, :3] += 5.0  # errors only in the ignored border
    assert float(np.mean(to_numpy(loss(y_true, y_pred)))) == 0.0
    y_pred[:, 8, 8] += 1.0
    expected = np.mean((y_pred - y_true)[:, 3:-3, 3:-3] ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(to_numpy(loss(y_true, y_pred)), expected, rtol=1e-6)
