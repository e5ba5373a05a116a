"""The Keras backend (TensorFlow, JAX or PyTorch), imported quietly once, and the device.

Keras 3 runs the same model on TensorFlow, JAX or PyTorch; ``KERAS_BACKEND``
chooses (default ``tensorflow`` here, whatever ``~/.keras/keras.json`` says, so
that a run does not change with a file the user forgot). Only the chosen
backend's package is imported: the program runs where TensorFlow is not
installed.

TensorFlow prints C++ start-up lines ("oneDNN custom operations are on", absl
messages) on file descriptor 2 before Python's logging can intervene. We hide
them by pointing fd 2 at /dev/null during its import only, so that later
errors still reach the user, and keep oneDNN (faster: ``docs/guide/performance.md``) enabled.
"""

import contextlib
import importlib.util
import logging
import os
import sys

from ..errors import EnhanceError
from .config import DEVICES

__all__ = [
    "BACKENDS", "backend_name", "check_installed", "cpu_flags", "describe", "device_scope", "gpu_names", "import_keras",
    "no_gpu_message", "resolve_device", "set_random_seed", "to_numpy",
]

# Keras backend name -> the package it needs and the pip extra that installs it.
BACKENDS = {"tensorflow": ("tensorflow", None), "jax": ("jax", "jax"), "torch": ("torch", "torch")}
DEFAULT_BACKEND = "tensorflow"

_modules = {}


def backend_name():
    """The Keras backend of this process: ``$KERAS_BACKEND``, default ``tensorflow``.

    Once Keras is imported (by this package or before it), the backend it runs on.

    Raises
    ------
    EnhanceError
        An unknown backend name.
    """
    keras = _modules.get("keras") or sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):  # already imported (e.g. in a notebook)
        name = keras.backend.backend()
    else:
        name = os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
    if name not in BACKENDS:
        msg = f"unknown KERAS_BACKEND {name!r}; choose one of {', '.join(BACKENDS)}"
        raise EnhanceError(msg)
    return name


def cpu_flags():
    """The CPU's feature flags (``/proc/cpuinfo``; an empty set where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def check_installed(name=None):
    """Raise :class:`EnhanceError` when backend ``name`` (default: this process's) or keras
    is not installed; nothing is imported."""
    name = backend_name() if name is None else name
    package, extra = BACKENDS[name]
    if importlib.util.find_spec(package) is None:
        how = f"pip install 'enhance-keras3[{extra}]'" if extra else "pip install tensorflow"
        msg = f"the {name} backend needs {package}, which is not installed ({how})"
        raise EnhanceError(msg)
    if importlib.util.find_spec("keras") is None:
        raise EnhanceError("keras is not installed (pip install keras)")


def _quiet_import(name):
    check_installed(name)
    os.environ["KERAS_BACKEND"] = name
    try:
        _import(name)
    except ImportError as exc:  # a broken installation
        raise EnhanceError(f"cannot import the {name} backend ({exc})") from None


def _import(name):
    if name != "tensorflow":
        import keras

        _modules["keras"] = keras
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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
        import keras
        import tensorflow as tf
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


def import_keras():
    """Return the ``keras`` module on the chosen backend, imported (quietly) once.

    Raises
    ------
    EnhanceError
        Unknown backend, or its package (or keras) not installed.
    """
    if "keras" not in _modules:
        _quiet_import(backend_name())
    return _modules["keras"]


def set_random_seed(seed):
    """Seed Python, NumPy and the backend (:func:`keras.utils.set_random_seed`).

    Keras also seeds TensorFlow whenever it is installed, importing it (seconds,
    hundreds of MB) even on the JAX and PyTorch backends; there it is kept out.
    """
    keras = import_keras()
    if backend_name() == "tensorflow" or sys.modules.get("tensorflow") is not None:
        keras.utils.set_random_seed(int(seed))
        return
    missing = "tensorflow" not in sys.modules
    sys.modules["tensorflow"] = None  # keras then finds TensorFlow "not installed"
    try:
        keras.utils.set_random_seed(int(seed))
    finally:
        if missing:
            del sys.modules["tensorflow"]


def to_numpy(x):
    """A backend tensor (or anything array-like) as a numpy array."""
    return import_keras().ops.convert_to_numpy(x)


def gpu_names():
    """Names of the GPUs the backend sees (empty on a CPU-only machine)."""
    import_keras()
    name = backend_name()
    if name == "tensorflow":
        tf = _modules["tf"]
        gpus = tf.config.list_physical_devices("GPU")
        return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    if name == "jax":
        import jax

        try:
            return [d.device_kind for d in jax.devices("gpu")]
        except RuntimeError:  # no GPU platform in this jaxlib
            return []
    import torch

    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def resolve_device(device="auto"):
    """Turn a device request into ``'cpu'`` or ``'gpu'``.

    Parameters
    ----------
    device : {'auto', 'cpu', 'gpu'}
        ``auto`` takes a GPU when the backend sees one.

    Raises
    ------
    EnhanceError
        An unknown request, or ``gpu`` with no GPU visible to the backend.
    """
    if device not in DEVICES:
        raise EnhanceError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu"
    gpus = gpu_names()
    if device == "gpu" and not gpus:
        raise EnhanceError(no_gpu_message(backend_name()))
    return "gpu" if gpus else "cpu"


def no_gpu_message(name):
    """What ``--device gpu`` says when backend ``name`` sees no GPU, with the way to one.

    Examples
    --------
    >>> no_gpu_message("jax")
    'a GPU was asked for, but the jax backend sees none; is its CUDA build installed? (see docs/guide/backends.md)'
    """
    if name == "tensorflow":
        advice = ("on a GPU machine use JAX or PyTorch with their CUDA builds, KERAS_BACKEND=jax or torch "
                  "(see docs/guide/backends.md)")
    else:
        advice = "is its CUDA build installed? (see docs/guide/backends.md)"
    return f"a GPU was asked for, but the {name} backend sees none; {advice}"


@contextlib.contextmanager
def device_scope(device):
    """Run Keras (variables, operations) on ``'cpu'`` or ``'gpu'`` inside the block."""
    keras = import_keras()
    # PyTorch: a bare name; "cpu:0" would make keras copy each new variable off
    # its Parameter (a non-leaf tensor that gets no gradient).
    name = device if backend_name() == "torch" else f"{device}:0"
    with keras.device(name):
        yield


def describe(device=None):
    """One line naming the backend, its version and the device, for logs and FITS HISTORY."""
    keras = import_keras()
    name = backend_name()
    version = getattr(sys.modules.get(BACKENDS[name][0]), "__version__", "?")
    text = f"keras {keras.__version__}, {name} {version}"
    return f"{text} on {device}" if device else text
