"""Training callbacks: the learning-rate schedule, batch-norm statistics recalibrated."""

import numpy as np
import pytest

from enhance_lib.nets.backend import to_numpy
from enhance_lib.nets.config import NetworkConfig
from enhance_lib.training.callbacks import learning_rate, recalibrate_batchnorm

pytestmark = pytest.mark.backend


def test_learning_rate_schedule():
    assert [learning_rate(e, lr=1e-4, lr_multiplier=0.5) for e in (0, 19, 20, 30)] == [1e-4, 1e-4, 5e-5, 5e-5]
    assert learning_rate(3, lr=1.0, lr_multiplier=0.1, lr_epoch=3) == pytest.approx(0.1)


def test_recalibrate_batchnorm_matches_training_mode():
    from enhance_lib.nets.models import build_model

    model = build_model(NetworkConfig(depth=2, filters=4, l2=0.0))
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(6, 12, 12, 1)).astype(np.float32)
    # Fresh moving statistics (mean 0, variance 1) do not describe these data ...
    stale = to_numpy(model(x, training=False))
    trained_mode = to_numpy(model(x, training=True))
    assert np.abs(stale - trained_mode).max() > 1e-2
    # ... after recalibration on this one batch, inference equals training mode.
    assert recalibrate_batchnorm(model, [x]) == 5
    np.testing.assert_allclose(to_numpy(model(x, training=False)), trained_mode, rtol=1e-3, atol=1e-4)
    # Also where BN layers work at several resolutions (encdec: stride 2, upsampling).
    encdec = build_model(NetworkConfig(model="encdec", depth=1, filters=4, l2=0.0))
    xe = x[:, :12, :12]
    want = to_numpy(encdec(xe, training=True))
    assert recalibrate_batchnorm(encdec, [xe]) > 0
    np.testing.assert_allclose(to_numpy(encdec(xe, training=False)), want, rtol=1e-3, atol=1e-4)
    # Statistics are pooled over batches: the same batch twice changes nothing.
    before = [w.copy() for w in model.get_weights()]
    recalibrate_batchnorm(model, [x, x])
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
