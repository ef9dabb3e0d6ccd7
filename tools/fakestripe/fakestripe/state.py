"""Where the stand-in keeps its state, not localstripe's hard-coded ``/tmp/localstripe.pickle``.

Stock localstripe pickles the whole store to ``/tmp/localstripe.pickle`` on *every* ``store[...] =``
(even with ``--from-scratch``), so two instances trample each other and tests leak state. Here the
pickle lives in a state directory chosen by the launcher (``--state-dir``, or a fresh temp dir),
is written atomically (temp file + rename), and writes are coalesced: a change marks the store
dirty, and the dirty store is written once after each mutating request (and soon after changes
made outside requests, e.g. by delayed callbacks). Restarting with the same directory reloads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import tempfile
from typing import Any

from localstripe import resources

PICKLE_NAME = "localstripe.pickle"

_state: dict[str, Any] = {"dir": None, "dirty": False, "scheduled": False}


def configure(state_dir: str) -> None:
    os.makedirs(state_dir, exist_ok=True)
    _state["dir"] = state_dir


def state_dir() -> str:
    if _state["dir"] is None:
        configure(tempfile.mkdtemp(prefix="fakestripe-"))
    return _state["dir"]


def pickle_path() -> str:
    return os.path.join(state_dir(), PICKLE_NAME)


def _try_load_from_disk(self: resources.Store) -> None:
    try:
        with open(pickle_path(), "rb") as f:
            old = pickle.load(f)
    except FileNotFoundError:
        return
    dict.clear(self)
    dict.update(self, old)


def _dump_to_disk(self: resources.Store) -> None:
    path = pickle_path()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".store-")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _state["dirty"] = False


def mark_dirty() -> None:
    """Remember that the store changed; write it soon (once per event-loop turn at most)."""
    _state["dirty"] = True
    if _state["scheduled"]:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop (e.g. import-time or unit use): flushed by flush() callers
    _state["scheduled"] = True
    loop.call_soon(_deferred_flush)


def _deferred_flush() -> None:
    _state["scheduled"] = False
    flush()


def flush() -> None:
    if _state["dirty"]:
        resources.store.dump_to_disk()


def _setitem(self, key, value):
    dict.__setitem__(self, key, value)
    mark_dirty()


def _delitem(self, key):
    dict.__delitem__(self, key)
    mark_dirty()


def _clear(self):
    dict.clear(self)
    mark_dirty()


def apply() -> None:
    store_cls = resources.Store
    store_cls.try_load_from_disk = _try_load_from_disk
    store_cls.dump_to_disk = _dump_to_disk
    store_cls.__setitem__ = _setitem
    store_cls.__delitem__ = _delitem
    store_cls.clear = _clear
