"""The files of a training run."""

import pytest

from enhance_lib.training.files import TrainingFiles

pytestmark = pytest.mark.backend


def test_files_names():
    f = TrainingFiles.for_run("net/run", 5)
    assert f.root == "net/run_5"
    assert f.weights == "net/run_5.weights.h5"
    assert (f.args, f.model_json, f.summary, f.plot, f.loss, f.loss_batch) == (
        "net/run_5_args.json",
        "net/run_5_model.json",
        "net/run_5_summary.txt",
        "net/run_5_model.png",
        "net/run_5_loss.json",
        "net/run_5_loss_batch.json",
    )
