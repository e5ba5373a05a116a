"""HDF5 attributes as Python values: the one decoder of databases and weights files."""

import json

import numpy as np

__all__ = ["decode_attr"]


def decode_attr(value, *, parse_json=True):
    """An HDF5 attribute (or an element of one) as a plain Python value.

    Parameters
    ----------
    value : bytes, str, numpy scalar or array
        As :mod:`h5py` returns it: strings may come as ``bytes``, numbers as
        numpy scalars.
    parse_json : bool
        Decode text that is valid JSON (how the package stores lists and dicts);
        text that is not stays text. False: text is returned as it is.

    Returns
    -------
    object
        ``str`` for text (or the decoded JSON), Python ``int``/``float``/``bool``
        for numpy scalars, anything else unchanged.

    Examples
    --------
    >>> decode_attr(b'["a", 1]')
    ['a', 1]
    >>> decode_attr(b"blos"), decode_attr("[1]", parse_json=False)
    ('blos', '[1]')
    >>> type(decode_attr(np.float32(0.5)))
    <class 'float'>
    """
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        if not parse_json:
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value
