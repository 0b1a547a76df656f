"""A signature detector that can be rebuilt while a sensor runs.

:class:`ReloadingDetector` holds the running :class:`SigmaDetector` and a function that builds
a new one from the configuration and rule files as they are now. A reload is asked for from
anywhere, a signal handler included (:meth:`request_reload` only sets a flag), or by a change
of a watched file (the console's rule switches); it happens in the detecting thread, before the
next batch, so no batch ever sees half a rule set. The new detector takes over the correlation
windows that still mean the same (:meth:`SigmaDetector.adopt_state`). A build that fails (a
broken configuration) keeps the running rules and says why; broken rule files are reported
and skipped by the loader, the others load.

>>> from detection.sigma.loader import RulePack
>>> builds = []
>>> def build():
...     builds.append(1)
...     return SigmaDetector(RulePack())
>>> detector = ReloadingDetector(build, report=lambda line: None)
>>> detector.request_reload()
>>> detector.place([]), len(builds)
([], 2)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from detection.base import Placed
from detection.sigma.detector import SigmaDetector
from detection.sigma.fields import Event

Build = Callable[[], SigmaDetector]
Report = Callable[[str], None]
FileStamp = tuple[int, int] | None


class ReloadingDetector:
    """The detector contract over a rule set that a signal or a file change can replace."""

    def __init__(self, build: Build, report: Report, watched: Sequence[Path] = (),
                 check_every_s: float = 1.0) -> None:
        self._build, self._report = build, report
        self._watched = list(watched)
        self._check_every_s = check_every_s
        self._requested = threading.Event()
        self._stamps = self._stamp_all()
        self._next_check = time.monotonic() + check_every_s
        self.current = build()
        self.reloads = 0

    def request_reload(self) -> None:
        """Ask for a reload before the next batch (safe in a signal handler)."""
        self._requested.set()

    def place(self, events: Sequence[Event]) -> list[Placed]:
        if self._requested.is_set() or self._watched_changed():
            self._requested.clear()
            self.reload()
        return self.current.place(events)

    def finish(self) -> list[Event]:
        return self.current.finish()

    def reload(self) -> bool:
        """Build the rule set again; on failure keep the running one. True when replaced."""
        self._stamps = self._stamp_all()
        try:
            fresh = self._build()
        except ValueError as exc:  # ConfigError, OverridesError: the file and the reason
            self._report(f"reload refused, the running rules stay: {exc}")
            return False
        kept = fresh.adopt_state(self.current)
        for problem in fresh.problems:
            if problem.severity == "error":  # notes were said at start-up
                self._report(f"rule skipped: {problem}")
        self.current = fresh
        self.reloads += 1
        self._report(f"rules reloaded: {fresh.rule_count} rules, {kept} correlation windows "
                     "kept")
        return True

    def _watched_changed(self) -> bool:
        if not self._watched or time.monotonic() < self._next_check:
            return False
        self._next_check = time.monotonic() + self._check_every_s
        return self._stamp_all() != self._stamps

    def _stamp_all(self) -> list[FileStamp]:
        return [_stamp(path) for path in self._watched]


def _stamp(path: Path) -> FileStamp:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size
