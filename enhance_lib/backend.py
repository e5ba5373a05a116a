"""Quiet, lazy import of TensorFlow and Keras.

TensorFlow prints C++ start-up lines ("oneDNN custom operations are on", absl
messages) on file descriptor 2 before Python's logging can intervene. We hide
them by pointing fd 2 at /dev/null during the import only, so that later
errors still reach the user, and keep oneDNN (2.5x faster here) enabled.
"""

import logging
import os
import sys

__all__ = ["import_keras", "import_tf"]

_modules = {}


def _quiet_import():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. embedded interpreters)
        saved = None
    try:
        if saved is not None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        import tensorflow as tf
        import keras
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TensorFlow
        pass
    tf.get_logger().setLevel(logging.ERROR)
    _modules["tf"] = tf
    _modules["keras"] = keras


def import_tf():
    """Return the ``tensorflow`` module, imported quietly once."""
    if "tf" not in _modules:
        _quiet_import()
    return _modules["tf"]


def import_keras():
    """Return the ``keras`` module (TensorFlow backend), imported quietly once."""
    if "keras" not in _modules:
        _quiet_import()
    return _modules["keras"]
