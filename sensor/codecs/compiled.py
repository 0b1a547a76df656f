"""Decoder objects that take long to build, kept in a cache file that loads in a tenth of the time.

Importing pycrate's NGAP module builds and links some twelve thousand ASN.1 type objects: about
a second of CPU at every start of a sensor or replay, most of it in a loop of pycrate's
``init_modules`` that removes each resolved object from a list one at a time. The objects a
decoder uses, pickled once, load in about a tenth of a second. The file's name carries the
version of Python and the size and time of each source module the objects come from, so any
upgrade makes a new file.

Unpickling runs code, so a file is read only when it belongs to this user and neither it nor
its folder can be written by anyone else. A file that cannot be read, is refused, or does not
hold what it should is rebuilt; a folder that cannot be written costs only the time saved.

>>> import tempfile
>>> cache = Cache(Path(tempfile.mkdtemp()))
>>> cache.load("answer", ("json",), lambda: {"value": 42})
{'value': 42}
>>> [path.name.startswith("answer-") for path in cache.folder.iterdir()]
[True]
>>> cache.load("answer", ("json",), lambda: {"value": 0})   # built once, read afterwards
{'value': 42}
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/liaowang/compiled``, or ``~/.cache/liaowang/compiled``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "liaowang" / "compiled"


class Cache:
    """Pickled objects in ``folder``, each rebuilt when its source module changes."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else default_folder()

    def load(self, name: str, sources: tuple[str, ...], build: Callable[[], T]) -> T:
        """The object ``build`` returns, from the cache when it holds one built from the same
        ``sources`` (names of the modules whose code makes the object)."""
        path = self.folder / f"{name}-{_key(sources)}.pickle"
        cached = self._read(path)
        if cached is not None:
            return cached
        value = build()
        self._write(path, value)
        return value

    def _read(self, path: Path) -> Any:
        try:
            with path.open("rb") as handle:
                if not (_private(os.fstat(handle.fileno())) and _private(os.stat(path.parent))):
                    return None
                return pickle.load(handle)   # our own file, checked above
        except Exception:   # a missing, partial or foreign file is rebuilt
            return None

    def _write(self, path: Path, value: object) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            with tempfile.NamedTemporaryFile(dir=self.folder, delete=False) as handle:
                handle.write(data)
            os.replace(handle.name, path)   # readers see the whole file or none
        except (OSError, pickle.PicklingError, RecursionError):
            pass


def _private(status: os.stat_result) -> bool:
    return status.st_uid == os.getuid() and not status.st_mode & _OTHERS_WRITE


def _key(sources: tuple[str, ...]) -> str:
    """What the cached object was built from: this Python and each source module's file."""
    parts = [sys.version, str(pickle.HIGHEST_PROTOCOL)]
    for module in sources:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None and spec.origin else ""
        try:
            source = os.stat(origin)
        except OSError:
            parts.append(f"{module}:missing")
        else:
            parts.append(f"{module}:{origin}:{source.st_size}:{source.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
