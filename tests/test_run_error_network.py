"""The error network at run time (run/error_network.py): loading, tiling, z as a sigma."""

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.run.error_network import Z_RANGE, ErrorPredictor, sigma_from_log_variance
from enhance_lib.training import error_model as em


def test_sigma_is_exp_half_z_within_its_range():
    z = np.array([-100.0, -2.0, 0.0, 2.0, 100.0])
    sigma = sigma_from_log_variance(z)
    assert sigma.dtype == np.float32
    np.testing.assert_allclose(sigma, np.exp(0.5 * np.clip(z, *Z_RANGE)), rtol=1e-6)
    assert Z_RANGE == (-30.0, 30.0) and np.all(np.isfinite(sigma))


@pytest.fixture(scope="module")
def trained_error_weights(tmp_path_factory):
    from enhance_lib.nets.config import NetworkConfig
    from enhance_lib.nets.models import build_model
    from enhance_lib.nets.weights import save_weights

    config = NetworkConfig(depth=1, filters=4, l2=0.0)
    net = em._with_batch_norm(build_model(config, batch_norm=False), config)
    path = tmp_path_factory.mktemp("err") / "tiny_error.weights.h5"
    history = {"train_seeds": [1000], "validation_seeds": [1001], "best_epoch": 0, "best_val_loss": 0.0, "seconds": 0}
    attrs = em.error_attrs("blos", history, config=config, epochs=1, patch=0, lr=1e-3, batch_size=1, steps=1)
    save_weights(net, path, config=config, kind="blos", attrs=attrs)
    return path, net


@pytest.mark.backend
def test_the_error_network_gives_a_positive_sigma_on_the_x2_grid(trained_error_weights):
    path, net = trained_error_weights
    predictor = ErrorPredictor.from_file(path, kind="blos", tile=0)
    image = np.random.default_rng(3).normal(size=(12, 10)).astype(np.float32)
    sigma = predictor.run(image)
    assert sigma.shape == (24, 20) and sigma.dtype == np.float32 and np.all(sigma > 0)
    # the runtime's z is the trained network's (BatchNormalization identities folded)
    z = net.predict(image[None, ..., None], verbose=0)[0, ..., 0]
    np.testing.assert_allclose(np.log(sigma) * 2, z, rtol=1e-4, atol=1e-4)


@pytest.mark.backend
def test_only_an_error_model_of_the_kind_loads(trained_error_weights, tiny_weights):
    with pytest.raises(EnhanceError, match="not an error model"):
        ErrorPredictor.from_file(tiny_weights)
    with pytest.raises(EnhanceError):
        ErrorPredictor.from_file(trained_error_weights[0], kind="intensity")
