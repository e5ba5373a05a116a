"""training/error_model.py and scripts/error_model.py: the learnt error model (UNCMODEL)."""

from pathlib import Path

import numpy as np
import pytest

from enhance_lib.training import error_model as em

NETWORK = Path(__file__).resolve().parent.parent / "network"


def test_nll_is_smallest_at_log_e2():
    z = np.linspace(-12, 4, 3201)
    for e in (0.01, 0.3, 2.0):
        values = [em.gaussian_nll(v, e) for v in z]
        assert z[int(np.argmin(values))] == pytest.approx(np.log(e ** 2), abs=5e-3)
    # the weights choose pixels: a masked-out pixel changes nothing
    zz, ee = np.zeros(4), np.array([1.0, 1.0, 1.0, 100.0])
    assert em.gaussian_nll(zz, ee, [1, 1, 1, 0]) == pytest.approx(0.5)


@pytest.mark.backend
def test_keras_loss_is_the_numpy_loss():
    rng = np.random.default_rng(0)
    z = rng.normal(-2, 1, (2, 6, 6, 1))
    e = rng.normal(0, 0.5, (2, 6, 6))
    mask = (rng.random((2, 6, 6)) > 0.3).astype(float)
    y_true = np.stack([e, mask], axis=-1).astype(np.float32)
    got = np.asarray(em._keras_nll()(y_true, z.astype(np.float32)))
    want = [em.gaussian_nll(z[i, ..., 0], e[i], mask[i]) for i in range(2)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_augment_keeps_the_grids_together():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 7))
    up = np.kron(x, np.ones((2, 2)))  # a map on the x2 grid that follows x
    seen = set()
    for index in range(8):
        ax, ae, am = em.augment(x, up, up > 0, index, sign=-1.0)
        np.testing.assert_array_equal(np.kron(ax, np.ones((2, 2))), ae)
        np.testing.assert_array_equal(am, ae < 0)  # the mask does not change sign
        seen.add(ax.tobytes())
    assert len(seen) == 8


def test_scores_of_perfect_and_constant_sigma():
    rng = np.random.default_rng(2)
    sigma = np.exp(rng.uniform(-3, 1, 20000))
    error = sigma * rng.standard_normal(sigma.size)
    good = em.sigma_scores(sigma, error)
    assert good["skill"] > 20 and good["spearman"] > 0.5
    assert good["scale"] == pytest.approx(1, abs=0.05)
    assert good["coverage1"] == pytest.approx(0.683, abs=0.02)
    assert good["coverage2"] == pytest.approx(0.954, abs=0.01)
    flat = em.sigma_scores(np.ones_like(sigma), error)
    assert flat["spearman"] == 0 and flat["skill"] == pytest.approx(1, abs=0.6)


def _toy_samples(n=12, size=24, seed=0):
    """Inputs whose model error has a known, input-dependent spread: N(0, (0.1 + |grad x|)^2)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    x = ndimage.gaussian_filter(rng.normal(size=(n, size, size)), (0, 1.5, 1.5)) * 4
    up = np.kron(x, np.ones((1, 2, 2)))
    gy, gx = np.gradient(up, axis=(1, 2))
    sigma = 0.1 + 4 * np.hypot(gy, gx)
    e = sigma * rng.standard_normal(sigma.shape)
    mask = np.stack([em.border_mask(up.shape[1:], 2)] * n)
    samples = em.ErrorSamples("intensity", tuple(range(n)), x.astype(np.float32), e.astype(np.float32), mask,
                              np.ones(n))
    return samples, sigma


@pytest.mark.slow
@pytest.mark.backend
def test_a_tiny_error_model_learns_where_errors_are_large():
    from scipy import stats

    from enhance_lib.nets.config import NetworkConfig

    samples, sigma = _toy_samples()
    config = NetworkConfig(depth=1, filters=8, l2=0.0)
    net, history = em.train_error_model("intensity", samples=samples, config=config, epochs=12, steps=8,
                                        batch_size=8, patch=0, lr=1e-2, validation=0.25)
    assert history["validation_seeds"] == [9, 10, 11] and history["best_val_loss"] < history["val_loss"][0]
    z = net.predict(samples.inputs[9:, ..., None], verbose=0)[..., 0]
    inner = (slice(None), slice(4, -4), slice(4, -4))
    rho = stats.spearmanr(z[inner].ravel(), sigma[9:][inner].ravel()).statistic
    assert rho > 0.5


@pytest.mark.parametrize("argv, words", [
    (["--kind", "intensity", "--output", "x.h5"], "--output must end in .weights.h5"),
    (["--kind", "blos", "--output", "x.weights.h5", "--seeds", "1999-2001"], "reserved"),
    (["--kind", "blos", "--output", "x.weights.h5", "--seeds", "10-x"], "bad seeds"),
    (["--kind", "velocity", "--output", "x.weights.h5"], "invalid choice"),
    (["--kind", "blos", "--output", "x.weights.h5", "--epochs", "0"], "--epochs must be >= 1"),
])
def test_script_refuses_bad_arguments_in_one_line(argv, words, capsys):
    from enhance_lib.scripts.error_model import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


@pytest.mark.backend
def test_script_saves_an_error_model(tmp_path, monkeypatch, capsys):
    """The program's path from flags to the saved file (the training itself replaced by a stub)."""
    from enhance_lib.nets.models import build_model
    from enhance_lib.nets.weights import inspect_weights
    from enhance_lib.scripts.error_model import main

    calls = []

    def train(kind, *, seeds, config, **options):
        calls.append((kind, seeds, config, options))
        net = em._with_batch_norm(build_model(config, batch_norm=False), config)
        return net, {"train_seeds": seeds[:-1], "validation_seeds": seeds[-1:], "best_epoch": 0,
                     "best_val_loss": -1.0, "seconds": 1.0}

    monkeypatch.setattr(em, "train_error_model", train)
    out = tmp_path / "b_error.weights.h5"
    assert main(["--kind", "blos", "-o", str(out), "--seeds", "1000-1002", "-d", "1", "-k", "4", "-e", "3"]) == 0
    (kind, seeds, config, options), = calls
    assert (kind, seeds, config.depth, config.filters, options["epochs"]) == ("blos", [1000, 1001, 1002], 1, 4, 3)
    info = inspect_weights(out)
    assert info.kind == "blos" and info.attrs["enhance_product"] == "error"
    assert info.attrs["error_model"]["seeds"] == [1000, 1001, 1002]
    assert "best validation loss" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["intensity", "blos"])
def test_shipped_error_models_say_what_they_are(kind):
    from enhance_lib.nets.weights import inspect_weights

    path = NETWORK / f"{kind}_error.weights.h5"
    if not path.is_file():
        pytest.skip(f"{path.name} not in this checkout")
    info = inspect_weights(path)
    assert info.kind == kind and info.attrs["enhance_product"] == "error"
    assert info.config.model == "keepsize" and info.attrs["error_model"]["loss"] == "gaussian_nll"
    seeds = set(info.attrs["error_model"]["seeds"])
    assert not seeds & (set(em.CALIBRATION_SEEDS) | set(em.EVALUATION_SEEDS) | set(range(5)))
