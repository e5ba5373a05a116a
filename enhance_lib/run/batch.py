"""Many files through one :class:`~enhance_lib.run.enhancer.Enhancer`: expanding the inputs,
and a pipeline that overlaps reading, prediction and writing.

:func:`enhance_files` runs a list of files through an Enhancer (each file with its data
type's network): while one file is predicted, a thread reads and normalises the next (at
most one ahead, so memory stays bounded) and another writes the last. A file that cannot be
done is reported and skipped; the others go on.
"""

import concurrent.futures
import contextlib
import dataclasses
import glob
import logging
import os
import threading
import warnings

from ..errors import EnhanceError
from ..io.atomic import check_output_folder, clean_folder
from ..io.fits import same_file
from .progress import file_progress

log = logging.getLogger(__name__)

__all__ = ["FITS_PATTERNS", "Outcome", "enhance_files", "expand_inputs", "log_stopped", "output_paths", "summary"]

# What a folder given as input contributes (sorted).
FITS_PATTERNS = ("*.fits", "*.fits.gz", "*.fts")


def expand_inputs(items):
    """The input files of ``-i``: files as given, folders' FITS files and glob patterns sorted.

    Returns
    -------
    files : list of str
    batch : bool
        True when the output is a folder: several inputs, a folder or a pattern.

    Raises
    ------
    EnhanceError
        A folder or pattern with no FITS files.
    """
    files, batch = [], len(items) > 1
    for item in items:
        if os.path.isdir(item):
            folder = glob.escape(item)
            found = sorted({f for pattern in FITS_PATTERNS for f in glob.glob(os.path.join(folder, pattern))})
            if not found:
                raise EnhanceError("no FITS files (*.fits, *.fits.gz, *.fts) in this folder", path=item)
            files += found
            batch = True
        elif glob.has_magic(item) and not os.path.exists(item):
            found = sorted(glob.glob(item))
            if not found:
                raise EnhanceError("no file matches this pattern", path=item)
            files += found
            batch = True
        else:
            files.append(item)
    return files, batch


@dataclasses.dataclass
class Outcome:
    """What happened to one input of :func:`enhance_files`.

    Attributes
    ----------
    input, output : str
    status : {'done', 'skipped', 'failed'}
    message : str
        Why it failed (empty otherwise).
    replaced : bool
        Done, replacing a file that was there.
    """

    input: str
    output: str
    status: str
    message: str = ""
    replaced: bool = False

    def fail(self, exc):
        """Mark it failed, with the error's message (without the path an EnhanceError prefixes)."""
        if isinstance(exc, MemoryError):
            message = "out of memory"
        else:
            message = getattr(exc, "message", None) or str(exc)
        self.status, self.message = "failed", message


def output_paths(inputs, folder):
    """Output paths in ``folder`` keeping each input's file name (a ``.gz`` ending dropped:
    outputs are not compressed).

    Raises
    ------
    EnhanceError
        Two inputs with the same file name (their outputs would collide).
    """
    outputs, seen = [], {}
    for path in inputs:
        name = os.path.basename(os.fspath(path))
        name = name[:-3] if name.endswith(".gz") else name
        if name in seen:
            raise EnhanceError(f"{seen[name]} and {path} would both be written as {name}", path=folder)
        seen[name] = path
        outputs.append(os.path.join(os.fspath(folder), name))
    return outputs


def enhance_files(enhancer, inputs, outputs, *, skip_existing=False, progress=False):
    """Enhance many files through one :class:`~enhance_lib.run.enhancer.Enhancer`, reading ahead
    and writing behind.

    While file k is predicted, a thread reads and normalises file k+1 (at most
    one file ahead) and another writes file k-1. A file that cannot be done (an
    :class:`EnhanceError`, an ``OSError``, or memory running out) is logged as one error
    line naming it; the others go on. The progress counts a file when it is predicted (its
    write goes on behind the next one), and the log lines and warnings of reading a file
    ahead (its data type) are held until its turn, so that they come after the previous
    file's progress.

    Parameters
    ----------
    enhancer : Enhancer
        Each file goes through its data type's network, built at the first file of that type.
    inputs, outputs : sequence of str or os.PathLike
        Paired input and output files.
    skip_existing : bool
        Leave inputs whose output exists alone (to finish an interrupted run).
    progress : bool
        One progress bar over the files.

    Returns
    -------
    list of Outcome
        In the order of ``inputs``.
    """
    outcomes = [Outcome(os.fspath(i), os.fspath(o), "pending") for i, o in zip(inputs, outputs, strict=True)]
    for folder in {os.path.dirname(os.path.abspath(o.output)) for o in outcomes}:
        clean_folder(folder)  # what killed runs left, even when nothing is left to write
    todo = []
    for outcome in outcomes:
        if skip_existing and os.path.exists(outcome.output):
            outcome.status = "skipped"
        elif same_file(outcome.input, outcome.output):
            outcome.status, outcome.message = "failed", "output would overwrite the input file"
        else:
            todo.append(outcome)

    def fail(outcome, exc):
        outcome.fail(exc)
        log.error("%s: %s", outcome.input, outcome.message)

    bar = file_progress(len(outcomes), initial=len(outcomes) - len(todo), enabled=progress)
    writing = None
    try:
        with bar, _HeldLines() as held, concurrent.futures.ThreadPoolExecutor(1) as reader, \
                concurrent.futures.ThreadPoolExecutor(1) as writer:

            def prepare(k):
                with held.holding(k):
                    check_output_folder(todo[k].output)
                    return enhancer.prepare_file(todo[k].input)

            ahead = reader.submit(prepare, 0) if todo else None
            for k, outcome in enumerate(todo):
                current = ahead
                ahead = reader.submit(prepare, k + 1) if k + 1 < len(todo) else None
                try:
                    try:
                        prepared = current.result()
                    finally:
                        held.release(k)  # its turn: the lines of reading it
                    enhanced = enhancer.run(prepared)
                except (EnhanceError, OSError, MemoryError) as exc:
                    # The Enhancer says which image ran out of memory (prepare.out_of_memory); a bare
                    # MemoryError (an Enhancer subclass's, say) still fails this file only.
                    fail(outcome, exc)
                    bar.update()
                    continue
                bar.update()
                if writing is not None:
                    _finish_write(*writing, fail)
                writing = (writer.submit(enhancer.write, prepared, enhanced, outcome.output), outcome)
            if writing is not None:
                _finish_write(*writing, fail)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: leaving the executors let the write in flight finish (an output is
        # whole or absent, never partial); say how far the batch got, then stop.
        if writing is not None and writing[0].done() and writing[1].status == "pending":
            _finish_write(*writing, fail)
        log_stopped(outcomes)
        raise
    return outcomes


class _HeldLines(logging.Filter):
    """The log records and warnings of the read-ahead thread, held until their file's turn.

    While open, it is a filter on the handlers the library's records reach (the programs'
    stderr handler, or a Python caller's) and the warnings' display: what is logged or
    shown inside :meth:`holding` is kept for its key instead, and :meth:`release` logs and
    shows it, in the calling thread, when that file's turn comes. What a file whose turn
    never came said (an interrupted batch) is dropped.
    """

    def __init__(self):
        super().__init__()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._held = {}
        self._handlers = []
        self._showwarning = None

    def __enter__(self):
        logger = logging.getLogger(__name__.partition(".")[0])
        while logger is not None:
            self._handlers += logger.handlers
            logger = logger.parent if logger.propagate else None
        for handler in self._handlers:
            handler.addFilter(self)
        self._showwarning = warnings.showwarning
        warnings.showwarning = self._show
        return self

    def __exit__(self, *exc):
        for handler in self._handlers:
            handler.removeFilter(self)
        if warnings.showwarning == self._show:
            warnings.showwarning = self._showwarning

    @contextlib.contextmanager
    def holding(self, key):
        """A context within which this thread's records and warnings are held for ``key``."""
        self._local.key = key
        try:
            yield
        finally:
            self._local.key = None

    def _hold(self, key, item):
        with self._lock:
            items = self._held.setdefault(key, [])
            if not any(i is item for i in items):  # a record reaches each handler
                items.append(item)

    def filter(self, record):
        key = getattr(self._local, "key", None)
        if key is None or getattr(record, "_enhance_released", False):
            return True
        self._hold(key, record)
        return False

    def _show(self, *args, **keywords):
        key = getattr(self._local, "key", None)
        if key is None:
            self._showwarning(*args, **keywords)
        else:
            self._hold(key, (args, keywords))

    def release(self, key):
        """Log the records and show the warnings held for ``key`` now, in their order."""
        with self._lock:
            items = self._held.pop(key, [])
        for item in items:
            if isinstance(item, logging.LogRecord):
                item._enhance_released = True
                logging.getLogger(item.name).handle(item)
            else:
                self._showwarning(*item[0], **item[1])


def log_stopped(outcomes):
    """Say how far an interrupted batch got, and how to finish it."""
    log.warning("stopped after %d of %d files (%s); rerun with `skip_existing` to finish the rest",
                sum(o.status != "pending" for o in outcomes), len(outcomes), summary(outcomes))


def summary(outcomes):
    """``'3 done, 1 skipped, 0 failed'``: the outcomes counted (and how many of those done
    replaced a file that was there)."""
    counts = {status: sum(o.status == status for o in outcomes) for status in ("done", "skipped", "failed")}
    replaced = sum(o.replaced for o in outcomes)
    text = ", ".join(f"{n} {status}" for status, n in counts.items())
    return text.replace(" done", f" done ({replaced} replacing files that were there)", 1) if replaced else text


def _finish_write(future, outcome, fail):
    try:
        outcome.replaced = future.result()
        outcome.status = "done"
    except (EnhanceError, OSError, MemoryError) as exc:
        fail(outcome, exc)
