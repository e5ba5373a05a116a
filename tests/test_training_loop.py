"""Training library: data pipeline, schedule, loss logs, best weights, resume."""

import hashlib
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from synthetic import read_database, toy_pairs

from enhance_lib.errors import EnhanceError
from enhance_lib.nets.config import NetworkConfig
from enhance_lib.nets.weights import load_network
from enhance_lib.training.data import PatchDataset
from enhance_lib.training.database_file import write_database
from enhance_lib.training.files import read_loss_log
from enhance_lib.training.loop import train

# Backend-sensitive: .ci/run runs these on the JAX backend too.
pytestmark = pytest.mark.backend

TINY = NetworkConfig(depth=1, filters=4, l2=0.0)


@pytest.fixture(scope="module")
def toy_val(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "valid.h5"
    write_database(path, *toy_pairs(8, seed=1))
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- data


# ----------------------------------------------------------------------------- train


@pytest.fixture(scope="module")
def trained(toy_db, toy_val, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "toy"
    # he_normal: the toy target is nearest upsampling, which the default init starts from
    result = train(toy_db, str(out), config=TINY, validation=toy_val, epochs=6, lr=1e-2, batch_size=5, seed=1,
                   init="he_normal")
    return out, result


@pytest.mark.slow
def test_upsampling_init_starts_near_the_answer(toy_db, toy_val, tmp_path, trained):
    # The toy target is nearest upsampling: from the upsampling init the first epoch is
    # already far better than from He-normal weights.
    _, random_start = trained
    result = train(toy_db, str(tmp_path / "up"), config=TINY, validation=toy_val, epochs=1, lr=1e-3,
                   batch_size=5, seed=1)
    with open(result.files.args) as f:
        assert json.load(f)["init"] == "upsampling"
    assert result.loss_log[1][2] < 0.1 * random_start.loss_log[1][2]


def test_loss_decreases_and_logs(trained):
    out, result = trained
    header, rows = read_loss_log(result.files.loss, row_length=4)
    assert header["name"] == f"{out}_1" and isinstance(header["init_t"], str)
    assert len(rows) == 6 == result.epochs
    losses = [r[1] for r in rows]
    assert losses[-1] < 0.5 * losses[0]
    assert min(r[2] for r in rows) == pytest.approx(result.best_val_loss)
    assert all(r[3] == pytest.approx(1e-2) for r in rows)

    bheader, brows = read_loss_log(result.files.loss_batch, row_length=3)
    assert bheader["name"] == header["name"]
    assert len(brows) == 6 * 5  # 24 patches in batches of 5: 5 batches per epoch
    # per-batch losses (not running means): their size-weighted mean is the epoch loss
    sizes = np.array([5, 5, 5, 5, 4])
    for epoch in range(6):
        batch = np.array([r[1] for r in brows[5 * epoch : 5 * epoch + 5]])
        assert np.sum(sizes * batch) / sizes.sum() == pytest.approx(losses[epoch], rel=1e-4)


def test_weights_file_gives_trained_predictions(trained):
    _, result = trained
    net, config = load_network(result.files.weights)
    assert config == TINY
    x = toy_pairs(3, size=12, seed=7)[0]
    np.testing.assert_allclose(net.predict(x, verbose=0), result.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_description_files(trained):
    _, result = trained
    f = result.files
    assert json.loads(Path(f.model_json).read_text())["class_name"] == "Functional"
    assert "Total params" in Path(f.summary).read_text()
    args = json.loads(Path(f.args).read_text())
    assert args["depth"] == 1 and args["filters"] == 4 and args["action"] == "start"


@pytest.mark.slow
def test_continue_appends_and_keeps_schedule(toy_db, tmp_path, monkeypatch):
    served = []  # (epoch, batch indices) of the training batches read inside epochs
    getitem = PatchDataset.__getitem__

    def spy(self, idx):
        if self.shuffle and self._begun:
            served.append((self.epoch, tuple(self.batch_indices(idx))))
        return getitem(self, idx)

    monkeypatch.setattr(PatchDataset, "__getitem__", spy)
    out = str(tmp_path / "run")
    kw = dict(config=TINY, validation_split=0.25, lr=1e-2, lr_multiplier=0.1, lr_epoch=3, batch_size=6, seed=2)
    first = train(toy_db, out, epochs=2, **kw)
    assert first.epochs == 2
    second = train(toy_db, out, epochs=2, action="continue", **kw)
    assert (second.initial_epoch, second.epochs) == (2, 4)
    header, rows = read_loss_log(second.files.loss, row_length=4)
    assert len(rows) == 4 and header == first.loss_log[0]
    assert [r[3] for r in rows] == pytest.approx([1e-2, 1e-2, 1e-2, 1e-3])
    _, brows = read_loss_log(second.files.loss_batch, row_length=3)
    assert len(brows) == 4 * 3  # 18 training patches, batches of 6
    assert [r[2] for r in brows[-3:]] == pytest.approx([1e-3] * 3)
    assert json.loads(Path(second.files.args).read_text())["action"] == "continue"
    # each epoch, interrupted or not, read every training patch once in the order seeded by (seed, epoch)
    reference = PatchDataset(toy_db, np.arange(18), batch_size=6, shuffle=True, seed=2)
    expected = []
    for epoch in range(4):
        reference.set_epoch(epoch)
        expected += [(epoch, tuple(reference.batch_indices(i))) for i in range(3)]
    assert served == expected


@pytest.mark.slow
def test_continue_does_not_overwrite_better_weights(toy_db, tmp_path):
    out = str(tmp_path / "run")
    kw = dict(config=TINY, validation_split=0.25, lr=1e-2, batch_size=8)
    first = train(toy_db, out, epochs=1, **kw)
    path = tmp_path / "run_1.weights.h5"
    # the weights record the validation loss they reached, and on what
    with h5py.File(path, "r") as f:
        record = json.loads(f.attrs["enhance_validation"])
    assert record["val_loss"] == pytest.approx(first.best_val_loss) and record["epoch"] == 1
    assert record["database"] == str(toy_db) and record["validation_split"] == 0.25
    # pretend the saved weights had a validation loss no epoch can beat
    with h5py.File(path, "a") as f:
        f.attrs["enhance_validation"] = json.dumps({**record, "val_loss": 0.0})
    before = digest(path)
    second = train(toy_db, out, epochs=1, action="continue", **kw)
    assert digest(path) == before
    assert second.best_val_loss == 0.0


@pytest.mark.slow
def test_train_with_database_mask(tmp_path):
    # Targets are nearest upsampling except a frame of garbage that the mask leaves out:
    # the network learns the upsampling as if the frame were not there.
    x, y = toy_pairs(24)
    mask = np.zeros(y.shape, bool)
    mask[:, 3:-3, 3:-3] = True
    y = np.where(mask, y, 50.0).astype(np.float32)
    db = tmp_path / "masked.h5"
    write_database(db, x, y, mask=mask)
    ds = PatchDataset(db, batch_size=4, with_mask=True)
    yb = ds[0][1]
    assert yb.shape == (4, 16, 16, 2)
    np.testing.assert_array_equal(yb[..., 1], mask[:4, ..., 0])
    ds.close()
    plain = write_database(tmp_path / "plain.h5", *toy_pairs(4)) or PatchDataset(tmp_path / "plain.h5", with_mask=True)
    assert (plain[0][1][..., 1] == 1).all()  # no mask in the file: every pixel counts
    plain.close()

    out = str(tmp_path / "m")
    result = train(db, out, config=TINY, validation_split=0.25, epochs=2, lr=1e-3, batch_size=6, seed=1)
    # From the upsampling init the kept pixels are already right: the garbage frame never enters the loss.
    assert result.best_val_loss < 1e-3
    with pytest.raises(EnhanceError, match="own loss mask"):
        train(db, out + "b", config=TINY, validation_split=0.25, epochs=1, loss_border=2)


@pytest.mark.slow
def test_continue_on_other_data_restarts_the_best(toy_db, toy_val, tmp_path):
    out = str(tmp_path / "run")
    kw = dict(config=TINY, lr=1e-2, batch_size=8, init="he_normal")  # not the toy's exact answer
    train(toy_db, out, validation_split=0.25, epochs=1, **kw)
    path = tmp_path / "run_1.weights.h5"
    with h5py.File(path, "a") as f:  # no epoch could beat it on the same validation data ...
        record = json.loads(f.attrs["enhance_validation"])
        f.attrs["enhance_validation"] = json.dumps({**record, "val_loss": 0.0})
    before = digest(path)
    second = train(toy_db, out, validation=toy_val, epochs=1, action="continue", **kw)
    # ... but on other validation data the losses are not comparable: this epoch's weights are kept,
    assert second.best_val_loss > 0.0
    assert digest(path) != before
    # and a further continue on that data compares with them, not with older epochs.
    with h5py.File(path, "a") as f:
        record = json.loads(f.attrs["enhance_validation"])
        assert record["validation"] == str(toy_val) and record["epoch"] == 2
        f.attrs["enhance_validation"] = json.dumps({**record, "val_loss": 0.0})
    before = digest(path)
    third = train(toy_db, out, validation=toy_val, epochs=1, action="continue", **kw)
    assert digest(path) == before and third.best_val_loss == 0.0


@pytest.mark.slow
def test_continue_weights_without_record_use_the_log(toy_db, tmp_path):
    # Weights saved by an earlier version carry no record: the log's best validation loss counts.
    out = str(tmp_path / "run")
    kw = dict(config=TINY, validation_split=0.25, lr=1e-2, batch_size=8, init="he_normal")
    first = train(toy_db, out, epochs=1, **kw)
    path = tmp_path / "run_1.weights.h5"
    with h5py.File(path, "a") as f:
        del f.attrs["enhance_validation"]
    log = json.loads(Path(first.files.loss).read_text())
    log[-1][2] = 0.0
    Path(first.files.loss).write_text(json.dumps(log))
    before = digest(path)
    second = train(toy_db, out, epochs=1, action="continue", **kw)
    assert digest(path) == before and second.best_val_loss == 0.0


@pytest.mark.slow
def test_seed_reproducible_and_encdec(toy_db, tmp_path):
    cfg = NetworkConfig(model="encdec", depth=1, filters=4, l2=1e-6, noise=0.1)
    kw = dict(config=cfg, validation_split=0.25, epochs=1, lr=1e-3, batch_size=8, seed=3)
    a = train(toy_db, str(tmp_path / "a"), **kw)
    b = train(toy_db, str(tmp_path / "b"), **kw)
    assert a.loss_log[1][1:] == b.loss_log[1][1:]
    assert load_network(a.files.weights)[1].model == "encdec"


def test_errors_before_writing(toy_db, toy_val, tmp_path):
    out = tmp_path / "out" / "net"
    with pytest.raises(EnhanceError, match="either"):
        train(toy_db, str(out), config=TINY, epochs=1)
    with pytest.raises(EnhanceError, match="either"):
        train(toy_db, str(out), config=TINY, validation=toy_val, validation_split=0.2)
    with pytest.raises(EnhanceError, match="epochs"):
        train(toy_db, str(out), config=TINY, validation=toy_val, epochs=0)
    with pytest.raises(EnhanceError, match="no previous run"):
        train(toy_db, str(out), config=TINY, validation=toy_val, action="continue")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EnhanceError, match="not a folder"):
        train(toy_db, str(blocker / "net"), config=TINY, validation=toy_val)
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["imHMI"] = np.zeros((2, 4, 4, 1), np.float32)
        f["imSST"] = np.full((2, 8, 8, 1), math.nan, np.float32)
    with pytest.raises(EnhanceError, match="NaN"):
        train(bad, str(out), config=TINY, validation=toy_val)
    assert not (tmp_path / "out").exists()


def test_training_records_its_in_domain_forward_check(trained, toy_val):
    """The weights carry the forward check the network reaches on its validation inputs, the
    level above which an enhanced image is reported as unlike the training data."""
    from enhance_lib.nets.weights import inspect_weights
    from enhance_lib.run.forward_check import DomainLevel, pooled_percent

    _, result = trained
    level = DomainLevel.from_attrs(inspect_weights(result.files.weights).attrs)
    assert level is not None and "validation" in level.measured_on
    inputs, _ = read_database(toy_val)[:2]
    outputs = result.model.predict(inputs, verbose=0)
    expected = pooled_percent(zip(inputs[..., 0], outputs[..., 0], strict=True), border=1)
    assert level.percent == pytest.approx(expected, rel=1e-4)
    assert 0 < level.percent < 1000
