"""Weight files: Keras 3 and the original's Keras 2 formats, architecture inference, BN folding."""

import h5py
import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.nets.backend import to_numpy
from enhance_lib.nets.config import NetworkConfig
from enhance_lib.nets.models import build_model
from enhance_lib.nets.weights import fold_batchnorm, inspect_weights, load_network, save_weights

# Backend-sensitive: .ci/run runs these on the JAX backend too.
pytestmark = pytest.mark.backend


def _randomise_bn(net, seed=0):
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if "BatchNormalization" in type(layer).__name__:
            n = layer.weights[0].shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n), rng.normal(0, 0.2, n), rng.uniform(0.3, 2, n)]
            )


@pytest.mark.parametrize(
    "name, layout",
    [("intensity_weights_only.hdf5", "legacy-weights"), ("blos_whole_model.hdf5", "legacy-model")],
)
def test_legacy_files_are_recognised(shared_data, name, layout):
    info = inspect_weights(shared_data / "legacy" / name)
    assert info.layout == layout
    assert (info.config.model, info.config.depth, info.config.filters) == ("keepsize", 5, 64)
    net, _config = load_network(shared_data / "legacy" / name)
    assert net.count_params() == 446657
    first = next(layer for layer in net.layers if layer.weights)
    with h5py.File(shared_data / "legacy" / name) as f:
        group = f.get("model_weights", f)
        np.testing.assert_array_equal(first.get_weights()[0], group["conv2d"]["conv2d"]["kernel:0"][()])


@pytest.mark.parametrize("model", ["keepsize", "encdec"])
def test_keras3_round_trip_with_and_without_stored_config(tmp_path, model):
    config = NetworkConfig(model=model, depth=2, filters=4, activation="elu")
    net = build_model(config)
    _randomise_bn(net)
    x = np.random.default_rng(1).random((1, 10, 12, 1)).astype("float32")
    record = {"val_loss": 0.25, "epoch": 3, "database": "db.h5"}
    save_weights(net, tmp_path / "a.weights.h5", config=config, attrs={"enhance_validation": record})
    loaded, found = load_network(tmp_path / "a.weights.h5")
    assert found == config
    assert inspect_weights(tmp_path / "a.weights.h5").attrs == {"enhance_validation": record}
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(net(x)), rtol=1e-6, atol=1e-6)
    # A plain Keras save_weights file: the architecture is inferred from the shapes.
    net.save_weights(tmp_path / "plain.weights.h5")
    loaded, found = load_network(tmp_path / "plain.weights.h5", activation="elu")
    assert (found.model, found.depth, found.filters) == (model, 2, 4)
    assert inspect_weights(tmp_path / "plain.weights.h5").attrs == {}
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(net(x)), rtol=1e-6, atol=1e-6)


def test_explicit_options_must_match_the_file(tiny_weights):
    with pytest.raises(EnhanceError, match="depth 5 was asked"):
        load_network(tiny_weights, depth=5)
    with pytest.raises(EnhanceError, match="filters 64 was asked"):
        load_network(tiny_weights, filters=64)
    with pytest.raises(EnhanceError, match="model encdec"):
        load_network(tiny_weights, model="encdec")
    with pytest.raises(EnhanceError, match="activation relu, not elu"):
        load_network(tiny_weights, activation="elu")
    _net, config = load_network(tiny_weights, depth=1, filters=4, model="keepsize", activation="relu")
    assert config.depth == 1


def test_bad_weights_files(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(EnhanceError, match="not a readable HDF5"):
        inspect_weights(text)
    with pytest.raises(EnhanceError, match="not found"):
        inspect_weights(tmp_path / "missing.weights.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(EnhanceError, match="not an Enhance weights file"):
        inspect_weights(other)


def test_truncated_weights_file(tmp_path, tiny_weights):
    broken = tmp_path / "broken.weights.h5"
    data = tiny_weights.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(EnhanceError):
        load_network(broken)


def test_save_weights_requires_keras3_suffix(tmp_path):
    config = NetworkConfig(depth=1, filters=2)
    with pytest.raises(EnhanceError, match=r"\.weights\.h5"):
        save_weights(build_model(config), tmp_path / "w.h5", config=config)


@pytest.mark.parametrize("model", ["keepsize", "encdec"])
def test_folded_batchnorm_gives_the_same_output(model):
    config = NetworkConfig(model=model, depth=2, filters=6)
    net = build_model(config)
    _randomise_bn(net, seed=4)
    folded = fold_batchnorm(net, config)
    assert not any("BatchNormalization" in type(layer).__name__ for layer in folded.layers)
    x = np.random.default_rng(5).random((1, 21, 18, 1)).astype("float32")
    ref = to_numpy(net(x, training=False))
    out = to_numpy(folded(x, training=False))
    assert np.sqrt(np.mean((out - ref) ** 2)) / np.sqrt(np.mean(ref**2)) < 1e-5


# ----------------------------------------------------------------------------- data type


def _datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.update({name: obj[()].tobytes()}) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_weights_record_their_data_type(tmp_path):
    config = NetworkConfig(depth=1, filters=2)
    net = build_model(config)
    path = tmp_path / "mine.weights.h5"
    save_weights(net, path, config=config, kind="blos", attrs={"enhance_validation": {"val_loss": 1.0}})
    info = inspect_weights(path)
    assert info.kind == "blos"
    assert info.attrs == {"enhance_validation": {"val_loss": 1.0}}  # the kind is not among the other attrs
    assert load_network(path, kind="blos")[1] == config
    with pytest.raises(EnhanceError) as exc:
        load_network(path, kind="intensity")
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and "for blos data, not intensity" in message
    assert "enhance the data as blos" in message and "\n" not in message
    with pytest.raises(EnhanceError, match=r"unknown data type|choose intensity or blos"):
        save_weights(net, tmp_path / "odd.weights.h5", config=config, kind="doppler")


def test_weights_that_do_not_say_are_trusted_unless_their_name_says_otherwise(tmp_path, tiny_weights):
    import shutil
    import warnings

    from enhance_lib.errors import EnhanceUserWarning

    assert inspect_weights(tiny_weights).kind is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no noise: nothing says they are wrong
        for kind in ("intensity", "blos", None):
            load_network(tiny_weights, kind=kind)
    named = tmp_path / "blos_weights.weights.h5"
    shutil.copyfile(tiny_weights, named)
    load_network(named, kind="blos")  # as its name says: silent (filterwarnings = error)
    with pytest.warns(EnhanceUserWarning, match="blos_weights.weights.h5.*suggests blos.*for intensity"):
        load_network(named, kind="intensity")


def test_legacy_files_say_no_data_type(shared_data):
    from enhance_lib.errors import EnhanceUserWarning

    assert inspect_weights(shared_data / "legacy" / "intensity_weights_only.hdf5").kind is None
    load_network(shared_data / "legacy" / "intensity_weights_only.hdf5", kind="intensity")
    with pytest.warns(EnhanceUserWarning, match="suggests blos"):
        load_network(shared_data / "legacy" / "blos_whole_model.hdf5", kind="intensity")


def test_stamp_kind_refuses_legacy_files(shared_data, tmp_path):
    import shutil

    from enhance_lib.nets.weights import stamp_kind

    legacy = tmp_path / "legacy.hdf5"
    shutil.copyfile(shared_data / "legacy" / "intensity_weights_only.hdf5", legacy)
    with pytest.raises(EnhanceError, match="only Keras 3"):
        stamp_kind(legacy, "intensity")
