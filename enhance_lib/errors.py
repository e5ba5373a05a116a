"""Exceptions and warnings of the Enhance package.

The warnings form a small family, as sunpy's and aiapy's do, so that a caller can
filter all of them or one kind::

    import warnings
    from enhance_lib.errors import EnhanceMetadataWarning

    warnings.simplefilter("ignore", EnhanceMetadataWarning)  # header oddities, not the rest

* :class:`EnhanceWarning`: the base of all;
* :class:`EnhanceUserWarning`: something the user should know, that the run survives
  (a ``kind`` that contradicts the header, bfloat16 where it is not faster, ...);
* :class:`EnhanceMetadataWarning`: a header that says something odd (a non-numeric WCS
  keyword, a pixel scale far from HMI's, a disk that disagrees with the image);
* :class:`EnhanceDomainWarning`: an input unlike the data the network learnt from (its
  forward check far above the network's in-domain level, :mod:`enhance_lib.run.forward_check`);
* :class:`EnhanceDeprecationWarning`: a feature that will go.

:func:`warn_user`, :func:`warn_metadata`, :func:`warn_domain` and :func:`warn_deprecated` issue
them at the caller's line (the first frame outside the package).
The command-line programs show each as one line, ``enhance: warning: ...`` (none with
``-q``).
"""

import os
import sys
import warnings

__all__ = [
    "EnhanceDeprecationWarning", "EnhanceDomainWarning", "EnhanceError", "EnhanceMetadataWarning", "EnhanceUserWarning",
    "EnhanceWarning", "warn_deprecated", "warn_domain", "warn_metadata", "warn_user",
]


class EnhanceError(Exception):
    """A problem with the user's input (files, options) that the CLI reports in one line.

    Parameters
    ----------
    message : str
        What is wrong, phrased for the user; parameters are named in backticks
        (```pixel_scale```), which the command-line programs show as their flags.
    path : str or os.PathLike, optional
        The file the problem concerns; it is prefixed to the message.

    Examples
    --------
    >>> str(EnhanceError("all pixels are NaN or infinite", path="in.fits"))
    'in.fits: all pixels are NaN or infinite'
    """

    def __init__(self, message, *, path=None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class EnhanceWarning(Warning):
    """The base of every warning of the Enhance package."""


class EnhanceUserWarning(UserWarning, EnhanceWarning):
    """Something the user should know about, that does not stop the program."""


class EnhanceMetadataWarning(EnhanceUserWarning):
    """A header (or map metadata) that says something odd; the run goes on with what it can use."""


class EnhanceDomainWarning(EnhanceUserWarning):
    """An input unlike the data the network learnt from: its forward check is far above the
    network's in-domain level (:mod:`enhance_lib.run.forward_check`)."""


class EnhanceDeprecationWarning(FutureWarning, EnhanceWarning):
    """A feature that will be removed; the message says what replaces it."""


def _caller_stacklevel():
    """The ``stacklevel`` that points a warning at the first frame outside this package: the
    line of the caller's code that led to it, however deep the library's path to the warning."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(2), 2  # frame 0: this function, 1: warn_user, 2: its caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level  # frame k up from warn_user is warnings.warn's stacklevel k


def warn_user(message):
    """Issue an :class:`EnhanceUserWarning` that a Python caller can filter or catch.

    It points at the caller's own line: the first frame outside the package, however the
    caller reached the library.
    """
    warnings.warn(message, EnhanceUserWarning, stacklevel=_caller_stacklevel())


def warn_domain(message):
    """Issue an :class:`EnhanceDomainWarning` (see :func:`warn_user`)."""
    warnings.warn(message, EnhanceDomainWarning, stacklevel=_caller_stacklevel())


def warn_metadata(message):
    """Issue an :class:`EnhanceMetadataWarning` (see :func:`warn_user`)."""
    warnings.warn(message, EnhanceMetadataWarning, stacklevel=_caller_stacklevel())


def warn_deprecated(message):
    """Issue an :class:`EnhanceDeprecationWarning` (see :func:`warn_user`)."""
    warnings.warn(message, EnhanceDeprecationWarning, stacklevel=_caller_stacklevel())
