"""The ``enhance-train`` command (``python train.py``) through ``train_main([...])``."""

import importlib.util
import json
import math
import re
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from synthetic import toy_pairs

from enhance_lib.errors import EnhanceUserWarning
from enhance_lib.scripts.train import build_parser
from enhance_lib.scripts.train import main as train_main
from enhance_lib.training.database_file import write_database

REPO = Path(__file__).resolve().parent.parent
TINY = ["-d", "1", "-k", "4", "-l2", "0", "-b", "6", "-lr", "1e-2", "--seed", "0", "--quiet"]


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("db")
    write_database(folder / "train.h5", *toy_pairs(24))
    write_database(folder / "valid.h5", *toy_pairs(6, seed=1))
    return folder / "train.h5", folder / "valid.h5"


def test_defaults_are_the_originals():
    args = build_parser().parse_args(["-o", "x", "-a", "start", "--database", "d.h5"])
    assert (args.epochs, args.noise, args.depth, args.kernels, args.model, args.activation) == (
        10, 0.0, 5, 64, "keepsize", "relu",
    )
    assert (args.lr, args.lr_multiplier, args.l2_regularization, args.batchsize) == (1e-4, 1.0, 1e-7, 32)


def test_train_py_is_thin():
    spec = importlib.util.spec_from_file_location("train_script", REPO / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main is train_main


@pytest.mark.slow
@pytest.mark.backend
def test_start_then_continue(dbs, tmp_path, capsys):
    train_db, valid_db = dbs
    out = tmp_path / "net" / "toy"
    base = ["-o", str(out), "--database", str(train_db), "--validation", str(valid_db), *TINY]
    assert train_main(["-a", "start", "-e", "2", *base]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # --quiet
    names = sorted(p.name for p in (tmp_path / "net").iterdir())
    assert names == [
        "toy_1.weights.h5",
        "toy_1_args.json",
        "toy_1_loss.json",
        "toy_1_loss_batch.json",
        "toy_1_model.json",
        "toy_1_summary.txt",
    ]  # no _model.png without pydot/graphviz
    args = json.loads((tmp_path / "net" / "toy_1_args.json").read_text())
    assert args["action"] == "start" and args["kernels"] == 4 and args["lr_multiplier"] == 1.0
    loss = json.loads((tmp_path / "net" / "toy_1_loss.json").read_text())
    assert set(loss[0]) == {"name", "init_t"} and loss[0]["name"] == f"{out}_1"
    assert len(loss) == 3 and all(len(r) == 4 and isinstance(r[0], str) for r in loss[1:])
    batch = json.loads((tmp_path / "net" / "toy_1_loss_batch.json").read_text())
    assert len(batch) == 1 + 2 * 4 and all(len(r) == 3 for r in batch[1:])

    assert train_main(["-a", "continue", "-e", "3", *base]) == 0
    loss2 = json.loads((tmp_path / "net" / "toy_1_loss.json").read_text())
    assert loss2[:3] == loss and len(loss2) == 1 + 5
    batch2 = json.loads((tmp_path / "net" / "toy_1_loss_batch.json").read_text())
    assert batch2[: len(batch)] == batch and len(batch2) == 1 + 5 * 4

    # continuing with another architecture fails cleanly and leaves the run as it was
    before = {p.name: p.read_bytes() for p in (tmp_path / "net").iterdir()}
    for flags, match in (
        (["-d", "2"], "no previous run.*toy_1.weights.h5.*--depth"),
        (["-k", "8"], "filters 4.*filters 8"),
        (["-m", "encdec"], "model keepsize.*model encdec"),
    ):
        capsys.readouterr()
        assert train_main(["-a", "continue", *base, *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("enhance-train: error: "), err
        assert re.search(match, err), err
    assert {p.name: p.read_bytes() for p in (tmp_path / "net").iterdir()} == before


@pytest.mark.slow
def test_validation_split(dbs, tmp_path):
    out = tmp_path / "split"
    argv = ["-a", "start", "-e", "1", "-o", str(out), "--database", str(dbs[0]), "--validation-split", "0.25", *TINY]
    assert train_main(argv) == 0
    loss = json.loads((tmp_path / "split_1_loss.json").read_text())
    assert len(loss) == 2 and loss[1][2] is not None
    batch = json.loads((tmp_path / "split_1_loss_batch.json").read_text())
    assert len(batch) == 1 + 3  # 18 training patches in batches of 6


def nan_db(path):
    with h5py.File(path, "w") as f:
        f["imHMI"] = np.zeros((4, 4, 4, 1), np.float32)
        sst = np.zeros((4, 8, 8, 1), np.float32)
        sst[2, 3, 3, 0] = math.nan
        f["imSST"] = sst


def no_datasets_db(path):
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((4, 4, 4), np.float32)


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "no such file"),
        ("no_datasets", "imHMI, imSST missing"),
        ("nan", "NaN"),
        ("continue", "no previous run"),
        ("no_validation", "--validation PATH or --validation-split"),
        ("both_validations", "not allowed with"),
        ("bad_split", "between 0 and 1"),
        ("unwritable", "not a folder"),
        ("bad_depth", "depth must be >= 0"),
        ("bad_action", "invalid choice"),
    ],
)
def test_errors_one_line_exit_2(case, match, dbs, tmp_path, capsys):
    train_db, valid_db = dbs
    out = tmp_path / "out" / "net"
    database, extra = str(train_db), ["--validation", str(valid_db)]
    action = "start"
    if case == "missing":
        database = str(tmp_path / "nope.h5")
    elif case == "no_datasets":
        database = str(tmp_path / "empty.h5")
        no_datasets_db(database)
    elif case == "nan":
        database = str(tmp_path / "nan.h5")
        nan_db(database)
    elif case == "continue":
        action = "continue"
    elif case == "no_validation":
        extra = []
    elif case == "both_validations":
        extra += ["--validation-split", "0.2"]
    elif case == "bad_split":
        extra = ["--validation-split", "1.5"]
    elif case == "unwritable":
        (tmp_path / "out").write_text("a file, not a folder")
    elif case == "bad_depth":
        extra += ["-d", "-1"]
    elif case == "bad_action":
        action = "resume"
    argv = ["-a", action, "-e", "1", "-o", str(out), "--database", database, *TINY, *extra]
    assert train_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("enhance-train: error: "), err
    assert re.search(match, err), err
    assert "Traceback" not in err
    if case != "unwritable":
        assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.backend
def test_loss_border_flag(dbs, tmp_path, capsys):
    out = tmp_path / "border"
    argv = ["-a", "start", "-e", "1", "-o", str(out), "--database", str(dbs[0]), "--validation", str(dbs[1]), *TINY]
    assert train_main([*argv, "--loss-border", "2"]) == 0
    assert json.loads((tmp_path / "border_1_args.json").read_text())["loss_border"] == 2
    assert train_main([*argv, "--loss-border", "8"]) == 2  # 16x16 targets: nothing left
    assert "loss border" in capsys.readouterr().err


@pytest.mark.slow
def test_weights_record_the_database_data_type(tmp_path, capsys):
    from enhance_lib.nets.weights import inspect_weights

    write_database(tmp_path / "blos.h5", *toy_pairs(12), attrs={"type": "blos"})
    write_database(tmp_path / "plain.h5", *toy_pairs(12))  # says nothing
    common = ["-a", "start", "-e", "1", "--validation-split", "0.25", *TINY]
    assert train_main(["-o", str(tmp_path / "b"), "--database", str(tmp_path / "blos.h5"), *common]) == 0
    assert inspect_weights(tmp_path / "b_1.weights.h5").kind == "blos"
    assert json.loads((tmp_path / "b_1_args.json").read_text())["type"] == "blos"
    assert train_main(["-o", str(tmp_path / "p"), "--database", str(tmp_path / "plain.h5"), *common]) == 0
    assert inspect_weights(tmp_path / "p_1.weights.h5").kind is None
    assert train_main(["-o", str(tmp_path / "p"), "--database", str(tmp_path / "plain.h5"), "-t", "intensity",
                       *common]) == 0
    assert inspect_weights(tmp_path / "p_1.weights.h5").kind == "intensity"
    # contradicting the database, or continuing a run on the other data type: one line, exit 2
    capsys.readouterr()
    argv = ["-o", str(tmp_path / "x"), "--database", str(tmp_path / "blos.h5"), "-t", "intensity", *common]
    assert train_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds blos data" in err and "not intensity" in err
    assert not (tmp_path / "x_1.weights.h5").exists()
    argv = ["-o", str(tmp_path / "p"), "--database", str(tmp_path / "blos.h5"), *common]
    argv[argv.index("start")] = "continue"
    assert train_main(argv) == 2
    assert "trained on intensity data" in capsys.readouterr().err


#: The original README's training command (its databases were the authors' own files).
ORIGINAL_COMMAND = (
    "--output=network/test --epochs=15 --depth=5 --action=start --model=keepsize --lr=1e-4 "
    "--lr_multiplier=1.0 --batchsize=32 --noise=1e-3 --l2_regularization=1e-6"
)
#: Toy size: appended flags override the command's (argparse keeps the last).
TOY_SYNTHETIC = ["--epochs=1", "--depth=1", "--kernels=4", "--synthetic-patches=20", "--synthetic-scenes=1",
                 "--synthetic-scene-size=256", "--synthetic-patch-size=12"]


def test_original_command_parses_as_spelled():
    args = build_parser().parse_args(ORIGINAL_COMMAND.split())
    expected = ("network/test", 15, 5, "start", "keepsize")
    assert (args.output, args.epochs, args.depth, args.action, args.model) == expected
    assert (args.lr, args.lr_multiplier, args.batchsize, args.noise, args.l2_regularization) == (
        1e-4, 1.0, 32, 1e-3, 1e-6,
    )
    assert args.database is None and args.type is None


@pytest.mark.slow
@pytest.mark.backend
def test_original_command_trains_on_a_cached_synthetic_database(tmp_path, monkeypatch, capsys):
    from enhance_lib.nets.weights import inspect_weights
    from enhance_lib.training.database_file import check_database

    cache = tmp_path / "cache"
    monkeypatch.setenv("ENHANCE_CACHE_DIR", str(cache))
    monkeypatch.chdir(tmp_path)
    argv = ORIGINAL_COMMAND.split() + TOY_SYNTHETIC
    assert train_main(argv) == 0
    err = capsys.readouterr().err
    (db,) = cache.iterdir()
    built = rf"built in {re.escape(str(db))}"
    assert re.search(rf"no --database: training on a synthetic-Sun intensity database of 20 patch pairs, {built}", err)
    info = check_database(db)
    described = (info.n, info.input_shape, info.attrs["type"], info.attrs["mode"])
    assert described == (20, (12, 12, 1), "intensity", "simulate")
    assert inspect_weights(tmp_path / "network" / "test_1.weights.h5").kind == "intensity"
    args = json.loads((tmp_path / "network" / "test_1_args.json").read_text())
    recorded = (args["database"], args["validation_split"], args["noise"], args["type"])
    assert recorded == (str(db), 0.1, 1e-3, "intensity")
    loss = json.loads((tmp_path / "network" / "test_1_loss.json").read_text())
    assert len(loss) == 2 and loss[1][2] is not None  # validated on the split
    # the second run reuses the cached file as it is
    stamp = db.stat().st_mtime_ns
    # (not pytest.warns: it would re-emit Keras's DeprecationWarnings, which pyproject ignores, as errors)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EnhanceUserWarning)
        assert train_main(argv) == 0
    assert [str(w.message) for w in caught if w.category is EnhanceUserWarning] == [
        "starting afresh: replacing the earlier run network/test_1"]
    assert re.search(rf"reused from {re.escape(str(db))}", capsys.readouterr().err)
    assert db.stat().st_mtime_ns == stamp and len(list(cache.iterdir())) == 1
    # another data type: its own database, and the weights say so
    assert train_main(argv + ["-t", "blos", "--quiet"]) == 0
    assert len(list(cache.iterdir())) == 2
    assert inspect_weights(tmp_path / "network" / "test_1.weights.h5").kind == "blos"
