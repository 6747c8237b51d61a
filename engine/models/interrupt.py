"""Stopping a download between two chunks when the user cancels a pull.

``hf_hub_download`` takes no cancel argument, and a pull that only looks at its
``CancelToken`` between files keeps downloading a multi-gigabyte file to the end
after the user pressed Cancel. In the CLI, Ctrl-C interrupts the main thread
anywhere; the desktop pulls in a worker thread, which nothing can interrupt from
outside safely (an exception injected at a random point could land while a file
lock is being released, and the process lives on).

The one place huggingface_hub's transfer loop calls back for every chunk, in the
thread doing the transfer, is the progress bar it makes with
``_get_progress_bar_context`` (looked up in ``huggingface_hub.file_download``'s
namespace, for plain HTTP and Xet downloads alike). ``cancellable(token)`` wraps
that function once per process so that, in a thread inside ``cancellable``, the
bar's ``update`` first calls ``token.check()``: ``Cancelled`` is raised before the
chunk is written, huggingface_hub closes the ``.incomplete`` file and releases its
lock on the way out, and the next pull resumes from the bytes already there.
Other threads, and downloads outside a pull, get the bar they always got. Were a
later huggingface_hub to rename the function, nothing is wrapped and a cancel is
noticed between files, as before.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from ..cancel import CancelToken

_local = threading.local()  # .cancel: the token of the pull this thread is running
_install_lock = threading.Lock()
_MARK = "_hgpt_cancellable"


@contextlib.contextmanager
def cancellable(cancel: CancelToken) -> Iterator[bool]:
    """Downloads in this thread stop at the next chunk once ``cancel`` is set.

    Yields whether mid-file cancelling is available with this huggingface_hub."""
    if not _install():
        yield False
        return
    previous = getattr(_local, "cancel", None)
    _local.cancel = cancel
    try:
        yield True
    finally:
        _local.cancel = previous


def _install() -> bool:
    try:
        from huggingface_hub import file_download
    except ImportError:
        return False
    with _install_lock:
        original = getattr(file_download, "_get_progress_bar_context", None)
        if original is None:
            return False
        if not getattr(original, _MARK, False):
            file_download._get_progress_bar_context = _wrap(original)
        return True


def _wrap(original):
    def bar_context(*args, **kwargs):
        context = original(*args, **kwargs)
        cancel = getattr(_local, "cancel", None)
        return context if cancel is None else _checked(context, cancel)

    setattr(bar_context, _MARK, True)
    return bar_context


@contextlib.contextmanager
def _checked(context, cancel: CancelToken):
    with context as bar:
        yield _CheckedBar(bar, cancel)


class _CheckedBar:
    """A progress bar that checks the token before each chunk is counted (and written).

    Only the thread that made it checks: Xet reports progress from its own threads,
    where an exception would not stop the transfer, only lose the report."""

    def __init__(self, bar, cancel: CancelToken):
        self._bar, self._cancel = bar, cancel
        self._thread = threading.get_ident()

    def update(self, n=1):
        if threading.get_ident() == self._thread:
            self._cancel.check()
        return self._bar.update(n)

    def __getattr__(self, name):
        return getattr(self._bar, name)
