"""Reading and writing Enhance weight files: Keras 3 and the original's Keras 2 HDF5.

Three layouts are understood:

* Keras 3 ``*.weights.h5`` (``model.save_weights``): groups ``layers/<class>_<k>/vars``.
  Files written by this package also carry the network configuration as the
  JSON root attribute ``enhance_config``, and the data type they were trained
  for (``'intensity'`` or ``'blos'``) as the root attribute ``enhance_kind``.
* Legacy Keras 2 ``save_weights`` files: root attribute ``layer_names``, each
  layer group with ``weight_names``.
* Legacy Keras 2 whole-model checkpoints (as the original ModelCheckpoint
  wrote them): the same under a ``model_weights`` group, plus optimizer state.

The architecture (model, depth, filters) is read from the kernel shapes in the
file before anything is built, so a user never has to repeat it.

Files that do not say which data type they are for (the original's Keras 2
files, plain Keras files, files from before ``enhance_kind``) can be stamped
with :func:`stamp_kind`, also from the command line::

    python -m enhance_lib.scripts.weights network/blos.weights.h5 --kind blos
    python -m enhance_lib.scripts.weights network/*.weights.h5        # show what they hold

(also installed as ``enhance-weights``; the program is :mod:`enhance_lib.scripts.weights`).
"""

import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np

from ..errors import EnhanceError, warn_user
from ..io.atomic import atomic_path
from ..io.h5attrs import decode_attr
from ..sun.kinds import KINDS, check_kind
from .backend import import_keras
from .config import BN_EPSILON, NetworkConfig, weighted_layer_kinds

log = logging.getLogger(__name__)

__all__ = [
    "WeightsInfo",
    "build_network",
    "check_kind_matches",
    "default_weights",
    "fold_batchnorm",
    "fold_layers",
    "inspect_weights",
    "load_network",
    "save_weights",
    "stamp_attrs",
    "stamp_kind",
]

CONFIG_ATTR = "enhance_config"
#: Root attribute: the data type the weights were trained for ('intensity' or 'blos').
KIND_ATTR = "enhance_kind"
#: Words in a file name that suggest a data type (the original named its files
#: ``intensity_weights.hdf5`` and ``blos_weights.hdf5``).
_NAME_HINTS = {"intensity": ("intensity", "continuum", "hmi_ic"), "blos": ("blos", "magnetogram", "hmi_m")}


class WeightsInfo:
    """What a weights file holds.

    Attributes
    ----------
    path : str
    layout : {'keras3', 'legacy-weights', 'legacy-model'}
    config : NetworkConfig
        Architecture inferred from the file (activation and noise from the
        stored configuration when present, else defaults).
    layers : list of list of numpy.ndarray
        Weights of each weighted layer, in topological order.
    stored : dict
        The configuration attached by :func:`save_weights` (empty for other files).
    attrs : dict
        The other root attributes :func:`save_weights` attached (``attrs``), decoded
        from JSON (empty for other files).
    kind : {'intensity', 'blos'} or None
        The data type the weights were trained for (root attribute ``enhance_kind``);
        None for files that do not say (e.g. the original's Keras 2 files).
    """

    def __init__(self, path, layout, config, layers, *, stored=None, attrs=None, kind=None):
        self.path = str(path)
        self.kind = kind
        self.stored = dict(stored or {})
        self.attrs = dict(attrs or {})
        self.layout = layout
        self.config = config
        self.layers = layers

    def __repr__(self):
        return f"WeightsInfo({self.path!r}, layout={self.layout!r}, config={self.config}, kind={self.kind!r})"


def _text(value):
    return decode_attr(value, parse_json=False)


def _legacy_layers(group):
    out = []
    for name in group.attrs["layer_names"]:
        layer = group[_text(name)]
        names = [_text(n) for n in layer.attrs.get("weight_names", [])]
        if names:
            out.append([np.asarray(layer[n]) for n in names])
    return out


def _keras3_layers(f):
    if "layers" not in f:
        raise KeyError("layers")
    entries = []
    for name, group in f["layers"].items():
        if "vars" not in group or len(group["vars"]) == 0:
            continue
        match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
        # Keras 3 names layers <class>, <class>_1, ...; weight order within a
        # class follows the counter, and conv/BN alternate in the topology.
        entries.append((match.group(1), int(match.group(2) or 0), name, group))
    convs = sorted((e for e in entries if e[0].startswith("conv2d")), key=lambda e: e[1])
    bns = sorted((e for e in entries if e[0].startswith("batch_normalization")), key=lambda e: e[1])
    other = [e for e in entries if e not in convs and e not in bns]
    if other:
        raise KeyError(f"unexpected layers {[e[2] for e in other]}")

    def arrays(group):
        v = group["vars"]
        return [np.asarray(v[str(i)]) for i in range(len(v))]

    return [arrays(e[3]) for e in convs], [arrays(e[3]) for e in bns]


def _infer_config(kernels, stored):
    """Architecture from the list of conv kernels (in order)."""
    if len(kernels) < 3 or kernels[0].ndim != 4 or kernels[0].shape[2] != 1:
        raise ValueError("does not look like an Enhance network")
    filters = kernels[0].shape[3]
    n3 = sum(1 for k in kernels if k.shape[0] == 3)
    if len(kernels) > 1 and kernels[1].shape[3] == 2 * filters:
        model, depth = "encdec", (n3 - 4) // 2
        expected = 2 * depth + 4
    else:
        model, depth = "keepsize", (n3 - 3) // 2
        expected = 2 * depth + 3
    if depth < 0 or n3 != expected or kernels[-1].shape[:2] != (1, 1) or kernels[-1].shape[3] != 1:
        raise ValueError("conv layer shapes do not match keepsize or encdec")
    kw = {k: stored[k] for k in ("activation", "noise", "l2") if k in stored}
    return NetworkConfig(model=model, depth=depth, filters=filters, **kw)


def inspect_weights(path):
    """Read a weights file and infer the network it holds.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    WeightsInfo

    Raises
    ------
    EnhanceError
        Missing, unreadable or not an Enhance weights file.
    """
    if not os.path.exists(path):
        raise EnhanceError("weights file not found", path=path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise EnhanceError(f"not a readable HDF5 weights file ({exc})", path=path) from None
    try:
        with f:
            stored, attrs = {}, {}
            kind = _text(f.attrs[KIND_ATTR]) if KIND_ATTR in f.attrs else None
            if kind is not None and kind not in KINDS:
                raise ValueError(f"{KIND_ATTR}: {_kind_problem(kind)}")
            if CONFIG_ATTR in f.attrs:
                stored = json.loads(_text(f.attrs[CONFIG_ATTR]))
                attrs = {k: decode_attr(f.attrs[k]) for k in f.attrs if k not in (CONFIG_ATTR, KIND_ATTR)}
            if "model_weights" in f and "layer_names" in f["model_weights"].attrs:
                layout, layers = "legacy-model", _legacy_layers(f["model_weights"])
            elif "layer_names" in f.attrs:
                layout, layers = "legacy-weights", _legacy_layers(f)
            else:
                layout = "keras3"
                convs, bns = _keras3_layers(f)
                layers = _interleave(convs, bns, stored)
            kernels = [w[0] for w in layers if w[0].ndim == 4]
            config = _infer_config(kernels, stored)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise EnhanceError(f"not an Enhance weights file ({exc})", path=path) from None
    return WeightsInfo(path, layout, config, layers, stored=stored, attrs=attrs, kind=kind)


def _kind_problem(kind):
    """The message of :func:`~enhance_lib.sun.kinds.check_kind` for a kind it refuses."""
    try:
        check_kind(kind)
    except EnhanceError as exc:
        return str(exc)
    return None


def _interleave(convs, bns, stored):
    """Put Keras 3 conv and BN weights back in topological order."""
    kernels = [c[0] for c in convs]
    config = _infer_config(kernels, stored)
    ci, bi, out = iter(convs), iter(bns), []
    for kind in weighted_layer_kinds(config, batch_norm=bool(bns)):
        out.append(next(ci) if kind == "conv" else next(bi))
    return out


def recorded_kind(path):
    """The data type a weights file records, or None (it does not say, or cannot be read:
    loading it then says why)."""
    if path is None:
        return None
    try:
        return inspect_weights(path).kind
    except EnhanceError:
        return None


def check_kind_matches(info, kind):
    """Check that weights are for data of type ``kind``.

    Parameters
    ----------
    info : WeightsInfo
    kind : {'intensity', 'blos'} or None
        The data to enhance; None checks nothing.

    Raises
    ------
    EnhanceError
        The file records another data type.

    Notes
    -----
    A file that does not record its data type (the original's Keras 2 files, a
    plain Keras file) is trusted silently, unless its name suggests the other
    data type (the original named its files ``intensity_weights.hdf5`` and
    ``blos_weights.hdf5``): then an :class:`~enhance_lib.errors.EnhanceUserWarning`
    is issued and the file is used.
    """
    if kind is None:
        return
    check_kind(kind)
    if info.kind is not None:
        if info.kind != kind:
            msg = (f"these weights are for {info.kind} data, not {kind} (enhance the data as {info.kind}, "
                   "or give other weights)")
            raise EnhanceError(msg, path=info.path)
        return
    name = os.path.basename(info.path).lower()
    hinted = [k for k, words in _NAME_HINTS.items() if any(w in name for w in words)]
    if len(hinted) == 1 and hinted[0] != kind:
        warn_user(
            f"{info.path}: these weights do not say which data they were trained for, but their "
            f"name suggests {hinted[0]}; using them for {kind} as asked"
        )
    else:
        log.debug("%s does not say which data type it is for; using it for %s", info.path, kind)


def load_network(path, *, model=None, depth=None, filters=None, activation=None, kind=None):
    """Build the network stored in a weights file and load its weights
    (:func:`build_network` of :func:`inspect_weights`).

    Returns
    -------
    keras.Model, NetworkConfig
    """
    return build_network(inspect_weights(path), model=model, depth=depth, filters=filters, activation=activation,
                         kind=kind)


def build_network(info, *, model=None, depth=None, filters=None, activation=None, kind=None, fold=False,
                  precision="float32"):
    """Build the network a weights file holds, from what :func:`inspect_weights` read of it.

    Parameters
    ----------
    info : WeightsInfo
    model, depth, filters, activation : optional
        When given, they must agree with the file (``activation`` cannot be
        read from legacy files and is taken as given, default ``relu``).
    kind : {'intensity', 'blos'}, optional
        The data the network will enhance. A file that records another data
        type is an error; one that records none is used (see
        :func:`check_kind_matches`). None (the default) checks nothing.
    fold : bool
        Build the inference network, with every BatchNormalization folded into its
        convolution (:func:`fold_layers`): one Keras model, never the trained one.
    precision : {'float32', 'bfloat16'}
        With ``fold``, the arithmetic the network computes in (``mixed_bfloat16``:
        float32 weights, bfloat16 computation).

    Returns
    -------
    keras.Model, NetworkConfig

    Raises
    ------
    EnhanceError
        When the file is unusable or disagrees with the explicit options.
    """
    path = info.path
    check_kind_matches(info, kind)
    config = info.config
    for name, given in (("model", model), ("depth", depth), ("filters", filters)):
        found = getattr(config, name)
        if given is not None and given != found:
            raise EnhanceError(
                f"weights hold a {config.model} network with depth {config.depth} and "
                f"{config.filters} filters, but {name} {given} was asked for",
                path=path,
            )
    if activation is not None and info.stored.get("activation", activation) != activation:
        raise EnhanceError(
            f"weights were trained with activation {info.stored['activation']}, not {activation}",
            path=path,
        )
    if activation is not None:
        config = NetworkConfig(**{**config.to_dict(), "activation": activation})
    expected = len(weighted_layer_kinds(config))
    if len(info.layers) != expected:
        raise EnhanceError(f"weights file has {len(info.layers)} weighted layers, the network {expected}", path=path)
    layers = fold_layers(info.layers, config) if fold else info.layers
    net = _build(config, batch_norm=not fold, precision=precision)
    for layer, arrays in zip([layer for layer in net.layers if layer.weights], layers, strict=True):
        shapes = [tuple(w.shape) for w in layer.weights]
        if shapes != [a.shape for a in arrays]:
            raise EnhanceError(
                f"layer {layer.name}: file shapes {[a.shape for a in arrays]} != network {shapes}",
                path=path,
            )
        layer.set_weights(arrays)
    log.debug("loaded %s (%s) as %s%s", path, info.layout, config, ", BN folded" if fold else "")
    return net, config


def _build(config, *, batch_norm, precision):
    """:func:`~enhance_lib.nets.models.build_model` under the dtype policy of ``precision``."""
    from .models import build_model

    if precision == "float32":
        return build_model(config, batch_norm=batch_norm)

    keras = import_keras()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        return build_model(config, batch_norm=batch_norm)
    finally:
        keras.config.set_dtype_policy(previous)


def default_weights(kind, *, product=None):
    """Path of the shipped network for ``kind`` ('intensity' or 'blos').

    ``product``: a network shipped beside it (``'error'``: the error network of the
    uncertainty maps, ``{kind}_error.weights.h5``).

    Looked up in ``$ENHANCE_NETWORK_DIR``, then ``network/`` of the source tree
    (a checkout or editable install), then ``<prefix>/share/enhance/network``
    (a regular install). Returns the first candidate when none exists.
    """
    name = f"{kind}.weights.h5" if product is None else f"{kind}_{product}.weights.h5"
    folders = []
    if os.environ.get("ENHANCE_NETWORK_DIR"):
        folders.append(Path(os.environ["ENHANCE_NETWORK_DIR"]))
    folders.append(Path(__file__).resolve().parents[2] / "network")
    folders.append(Path(sys.prefix) / "share" / "enhance" / "network")
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return folders[0] / name


def save_weights(net, path, *, config, kind=None, attrs=None):
    """Save weights in the Keras 3 format atomically, with the configuration attached.

    Parameters
    ----------
    net : keras.Model
    path : str or os.PathLike
        Must end in ``.weights.h5`` (a Keras 3 requirement).
    config : NetworkConfig
        Stored as the JSON root attribute ``enhance_config``.
    kind : {'intensity', 'blos'}, optional
        The data type the network was trained for, stored as the root attribute
        ``enhance_kind`` (not stored when None).
    attrs : dict, optional
        More root attributes, each stored as JSON (e.g. how training validated them).
    """
    path = str(path)
    if not path.endswith(".weights.h5"):
        raise EnhanceError("Keras 3 weights files must end in .weights.h5", path=path)
    if kind is not None:
        check_kind(kind)
    with atomic_path(path, suffix=".weights.h5") as tmp:
        net.save_weights(tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs[CONFIG_ATTR] = json.dumps(config.to_dict())
            if kind is not None:
                f.attrs[KIND_ATTR] = kind
            for key, value in (attrs or {}).items():
                f.attrs[key] = json.dumps(value)


def stamp_kind(path, kind):
    """Record in a Keras 3 weights file which data type it was trained for.

    Only the root attribute ``enhance_kind`` is added (or replaced): every
    dataset, and so the network, stays as it was. The file is changed on a copy
    that then replaces it, so an interrupted stamp leaves the original intact.

    Parameters
    ----------
    path : str or os.PathLike
        A Keras 3 ``.weights.h5`` file (the original's Keras 2 files are left alone:
        :func:`load_network` trusts them).
    kind : {'intensity', 'blos'}

    Returns
    -------
    WeightsInfo
        The stamped file, as :func:`inspect_weights` reads it.

    Raises
    ------
    EnhanceError
        Unknown ``kind``, or not a Keras 3 Enhance weights file.
    """
    check_kind(kind)
    info = inspect_weights(path)
    if info.kind == kind and info.layout == "keras3":
        log.info("%s already says %s", path, kind)
        return info
    log.info("%s: recording data type %s%s", path, kind, "" if info.kind is None else f" (was {info.kind})")
    return stamp_attrs(path, {KIND_ATTR: kind})  # the text as it is: the kind is stored as plain text


def stamp_attrs(path, attrs):
    """Record root attributes (each as JSON) in a Keras 3 weights file: what was measured of
    the network after it was trained, such as its in-domain forward check
    (:data:`enhance_lib.run.forward_check.DOMAIN_ATTR`).

    Only those attributes are added or replaced; the network stays as it was. The file is
    changed on a copy that then replaces it, as :func:`stamp_kind` does.

    Parameters
    ----------
    path : str or os.PathLike
        A Keras 3 ``.weights.h5`` file.
    attrs : dict
        Name -> a JSON-serialisable value (or text already JSON).

    Returns
    -------
    WeightsInfo
        The stamped file, as :func:`inspect_weights` reads it.

    Raises
    ------
    EnhanceError
        Not a Keras 3 Enhance weights file.
    """
    info = inspect_weights(path)
    if info.layout != "keras3":
        msg = f"only Keras 3 .weights.h5 files can be stamped (this is a {info.layout} file)"
        raise EnhanceError(msg, path=path)
    with atomic_path(path, suffix=".weights.h5") as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "a") as f:
            for key, value in attrs.items():
                f.attrs[key] = value if isinstance(value, str) else json.dumps(value)
    log.info("%s: recorded %s", path, ", ".join(attrs))
    return inspect_weights(path)


def fold_layers(layers, config):
    """The weights of the inference network: every BatchNormalization folded into its convolution.

    In inference mode BN is the affine map ``gamma (x - mean) / sqrt(var + eps) + beta``,
    which composes with the preceding convolution into one convolution with
    scaled kernel and shifted bias: fewer operations and memory passes, same output
    to float32 rounding.

    Parameters
    ----------
    layers : list of list of numpy.ndarray
        The weighted layers in order (``[kernel, bias]`` or ``[gamma, beta, mean, var]``),
        as :class:`WeightsInfo` holds them.
    config : NetworkConfig

    Returns
    -------
    list of [kernel, bias]
        float32, for the layers of ``build_model(config, batch_norm=False)``.
    """
    kinds = weighted_layer_kinds(config)
    if len(kinds) != len(layers):
        raise ValueError(f"{len(layers)} weighted layers for a network of {len(kinds)}")
    folded = []
    for kind, arrays in zip(kinds, layers, strict=True):
        if kind == "conv":
            folded.append([np.asarray(w, dtype=np.float64) for w in arrays])
            continue
        gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in arrays)
        kernel, bias = folded[-1]
        scale = gamma / np.sqrt(var + BN_EPSILON)
        folded[-1] = [kernel * scale, (bias - mean) * scale + beta]
    return [[kernel.astype(np.float32), bias.astype(np.float32)] for kernel, bias in folded]


def fold_batchnorm(net, config):
    """Return an inference network with every BatchNormalization of ``net`` folded into its
    convolution (:func:`fold_layers`).

    Parameters
    ----------
    net : keras.Model
        A network built by :func:`enhance_lib.nets.models.build_model` with BN.
    config : NetworkConfig

    Returns
    -------
    keras.Model
        The same architecture without BN layers (and without the noise layer), under the
        current dtype policy.
    """
    from .models import build_model

    folded = build_model(config, batch_norm=False)
    layers = fold_layers([layer.get_weights() for layer in net.layers if layer.weights], config)
    for layer, arrays in zip([layer for layer in folded.layers if layer.weights], layers, strict=True):
        layer.set_weights(arrays)
    return folded
