"""Exceptions and warnings of the Enhance package."""

import warnings

__all__ = ["EnhanceError", "EnhanceUserWarning", "warn_user"]


class EnhanceError(Exception):
    """A problem with the user's input (files, options) that the CLI reports in one line.

    Parameters
    ----------
    message : str
        What is wrong, phrased for the user.
    path : str or os.PathLike, optional
        The file the problem concerns; it is prefixed to the message.
    """

    def __init__(self, message, *, path=None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class EnhanceUserWarning(UserWarning):
    """Something the user should know about, that does not stop the program."""


def warn_user(message, *, stacklevel=3):
    """Issue an :class:`EnhanceUserWarning` that a Python caller can filter or catch.

    ``stacklevel`` 3 points the warning at the caller of the function that calls
    this helper. The command-line programs show each as one line (hidden by ``-q``).
    """
    warnings.warn(message, EnhanceUserWarning, stacklevel=stacklevel)
