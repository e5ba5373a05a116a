"""Training callbacks: the epoch's patch order, the learning-rate schedule, precise
BatchNormalization statistics, and the record of the run (best weights, loss logs).
"""

import logging
import math
import time

import numpy as np

from ..nets.backend import import_keras
from ..nets.config import LR_EPOCH
from ..nets.weights import save_weights
from .files import VALIDATION_ATTR, finite_or_none, write_json

keras = import_keras()
log = logging.getLogger(__name__)

__all__ = [
    "BN_PATCHES", "EpochOrder", "PreciseBatchNorm", "TrainingRecorder", "learning_rate",
    "recalibrate_batchnorm",
]

#: Training patches on which BatchNormalization statistics are recomputed before each validation.
BN_PATCHES = 512


def learning_rate(epoch, *, lr, lr_multiplier=1.0, lr_epoch=LR_EPOCH):
    """Learning rate of epoch ``epoch`` (0-based): ``lr``, times ``lr_multiplier`` from ``lr_epoch`` on."""
    return float(lr) * float(lr_multiplier) if epoch >= lr_epoch else float(lr)


def recalibrate_batchnorm(model, batches):
    """Set every BatchNormalization layer's moving statistics to their values on ``batches``.

    Keras keeps an exponential moving average of the batch statistics, which
    lags behind the weights while they change: at the end of an epoch the
    network evaluates with statistics of older weights (at a learning rate of
    1e-4 this shifted the intensity network's mean output by 2.5 %). Here the
    inputs of all BatchNormalization layers are computed in training mode (each
    normalised with its batch's statistics, as during training) and their
    pooled per-channel mean and variance over the batches become the moving
    statistics ("precise BN").

    Parameters
    ----------
    model : keras.Model
        A functional model; it is updated in place (its BN statistics).
    batches : iterable of numpy.ndarray
        Input batches (batch, ny, nx, C).

    Returns
    -------
    int
        Number of BatchNormalization layers updated.
    """
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return 0
    probe = keras.Model(model.inputs[0], [layer.input for layer in norms])
    # Per layer: [sum, sum of squares] per channel, and the number of values (layers
    # at other resolutions, as in encdec, see other numbers of pixels).
    total = [0.0] * len(norms)
    count = [0] * len(norms)
    for x in batches:
        outputs = probe(x, training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for k, out in enumerate(outputs):
            out = keras.ops.convert_to_numpy(out).astype(np.float64)
            flat = out.reshape(-1, out.shape[-1])
            total[k] = total[k] + np.stack([flat.sum(axis=0), np.square(flat).sum(axis=0)])
            count[k] += flat.shape[0]
    if not all(count):
        return 0
    for layer, (s1, s2), n in zip(norms, total, count, strict=True):
        mean = s1 / n
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(s2 / n - mean**2, 0.0).astype(np.float32))
    return len(norms)


class PreciseBatchNorm(keras.callbacks.Callback):
    """Recalibrate BatchNormalization statistics before every validation (and so
    before the weights of an epoch are judged and saved).

    Parameters
    ----------
    dataset : PatchDataset
        The training data; its first ``n_batches`` batches of the epoch's order are used
        (:func:`recalibrate_batchnorm`).
    n_batches : int
    """

    def __init__(self, dataset, n_batches):
        super().__init__()
        self.dataset = dataset
        self.n_batches = int(n_batches)

    def on_test_begin(self, logs=None):
        n = min(self.n_batches, len(self.dataset))
        if recalibrate_batchnorm(self.model, (self.dataset.batch_inputs(i) for i in range(n))):
            log.debug("batch-norm statistics recomputed on %d training batches", n)


class EpochOrder(keras.callbacks.Callback):
    """Tell a shuffled :class:`PatchDataset` which epoch starts, before it serves a batch.

    Parameters
    ----------
    data : PatchDataset
    """

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)


class TrainingRecorder(keras.callbacks.Callback):
    """Keep the best weights and write the loss logs after every epoch.

    The weights of the epoch with the lowest validation loss so far are saved
    atomically with :func:`enhance_lib.nets.weights.save_weights` (configuration
    attached) and kept in memory; the logs are rewritten atomically. Must come
    after any callback that changes the learning rate.

    Per-batch losses: Keras's per-batch ``logs["loss"]`` is the running mean
    over the epoch so far, weighted by batch size. The loss of batch ``k``
    itself is recovered as ``(N_k m_k - N_{k-1} m_{k-1}) / n_k`` (``N_k``
    patches seen, ``m_k`` the running mean, ``n_k`` the batch size); for
    equal batches ``k m_k - (k-1) m_{k-1}``. The means are float32, so the
    recovered value carries a relative rounding error of about ``k * 6e-8``.
    The original logged the running mean.

    The weights are saved before the logs are rewritten: a run killed between
    the two leaves weights one epoch newer than the log, and a resume then
    takes its threshold from the log (the best logged validation loss).

    Parameters
    ----------
    files : TrainingFiles
    config : NetworkConfig
    loss_log, batch_log : list
        The logs so far (header first); rows are appended.
    batch_sizes : list of int
        Patches in each training batch.
    best : float
        Validation loss to beat (that of the weights file on a resume).
    data : dict, optional
        What the validation loss is measured on; saved with the weights
        (:data:`VALIDATION_ATTR`) together with the loss and the epoch.
    kind : {'intensity', 'blos'}, optional
        The data type trained for, recorded in the weights (:func:`save_weights`).
    """

    def __init__(self, *, files, config, loss_log, batch_log, batch_sizes, best=math.inf, data=None, kind=None):
        super().__init__()
        self.kind = kind
        self.data = dict(data or {})
        self.files = files
        self.config = config
        self.loss_log = loss_log
        self.batch_log = batch_log
        self.batch_sizes = list(batch_sizes)
        self.best = float(best)
        self.best_weights = None
        self.best_epoch = None
        self._rows = []
        self._seen = 0
        self._mean = 0.0

    def _lr(self):
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        self._rows = []
        self._seen = 0
        self._mean = 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float((logs or {}).get("loss", math.nan))
        n = self.batch_sizes[batch] if batch < len(self.batch_sizes) else self.batch_sizes[-1]
        seen = self._seen + n
        loss = (seen * mean - self._seen * self._mean) / n
        self._seen, self._mean = seen, mean
        self._rows.append([time.asctime(), finite_or_none(loss), self._lr()])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = finite_or_none(logs.get("loss"))
        val = finite_or_none(logs.get("val_loss"))
        lr = self._lr()
        if val is not None and val < self.best:
            record = {"val_loss": val, "epoch": epoch + 1, **self.data}
            save_weights(self.model, self.files.weights, config=self.config, kind=self.kind,
                         attrs={VALIDATION_ATTR: record})
            log.debug("epoch %d: val_loss improved from %.6g to %.6g, saved %s", epoch + 1, self.best, val,
                     self.files.weights)
            self.best, self.best_epoch = val, epoch
            self.best_weights = self.model.get_weights()
        self.batch_log.extend(self._rows)
        self.loss_log.append([time.asctime(), loss, val, lr])
        self._rows = []
        write_json(self.files.loss_batch, self.batch_log)
        write_json(self.files.loss, self.loss_log)
