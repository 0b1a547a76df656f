"""Events to a console's ingest API, through the sensor's own disk spool; heartbeats beside them.

A sensor configured with ``sensor.sink: {type: console, url, token}`` ships here instead of
writing to a store. :class:`ConsoleSink` is a :class:`~pipelines.sinks.spooled.SpooledSink`
whose destination is :class:`ConsoleIngest`: every batch is on the sensor's disk first, and is
acknowledged only once the console has answered that it is on *its* disk. While the console is
down, unreachable, overloaded (``503``) or refuses the token (``401``/``403``: an operator must
fix it), batches wait in the spool and are offered again with back-off. Lines the console
refuses as invalid (``400``) cannot get better by sending them again: they are counted, logged
and passed over; the rest of their batch was taken. The console stores by ``event.id``, so a
batch sent again after a lost answer is stored once.

A heartbeat thread posts the sensor's counters to ``/api/sensors/heartbeat`` every
``heartbeat_s``; a missed heartbeat is only logged.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from liaowang import __version__
from liaowang.config import ConsoleSinkSettings, Settings
from pipelines.sinks.base import Event
from pipelines.sinks.spooled import Backoff, SpooledSink, spool_folder_name
from pipelines.spool import open_spool
from pipelines.store.base import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

INGEST_PATH = "/api/ingest"
HEARTBEAT_PATH = "/api/sensors/heartbeat"
_RETRY_LATER = {401, 403, 408, 425, 429, 500, 502, 503, 504}


@dataclass(slots=True)
class SensorCounters:
    """What a heartbeat reports beside the events shipped; the run fills it in."""

    packets: int = 0
    drops: int = 0
    lag_s: float = 0.0


class ConsoleIngest:
    """``POST /api/ingest`` of one console, as a spool destination."""

    def __init__(self, config: ConsoleSinkSettings) -> None:
        self.url = config.url.rstrip("/")
        self.refused = 0     # lines the console refused as invalid
        verify: bool | str = config.ca_file or config.verify
        self.client = httpx.Client(
            base_url=self.url, verify=verify, timeout=config.timeout_s,
            headers={"Authorization": f"Bearer {config.token.get_secret_value()}",
                     "User-Agent": f"liaowang-sensor/{__version__}"})

    def __repr__(self) -> str:
        return f"ConsoleIngest({self.url!r})"

    def write(self, events: Sequence[Event]) -> int:
        """Ship a batch; returns how many the console took."""
        if not events:
            return 0
        body = gzip.compress(b"".join(orjson.dumps(e) + b"\n" for e in events), compresslevel=1)
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
        answer = self._post(INGEST_PATH, content=body, headers=headers)
        if answer.status_code == 200:
            return int(answer.json()["accepted"])
        if answer.status_code == 400 and "errors" in _json(answer):
            return self._partly_refused(_json(answer))
        if answer.status_code in _RETRY_LATER:
            raise StoreUnavailable(f"console {self.url}: {answer.status_code} "
                                   f"{_detail(answer)}")
        raise StoreError(f"console {self.url} refused the batch: {answer.status_code} "
                         f"{_detail(answer)}")

    def heartbeat(self, beat: dict[str, Any]) -> bool:
        """Post a heartbeat; False (logged) when the console did not take it."""
        try:
            answer = self._post(HEARTBEAT_PATH, json=beat)
        except StoreUnavailable as exc:
            log.debug("heartbeat not sent: %s", exc)
            return False
        if answer.status_code != 204:
            log.warning("console %s refused a heartbeat: %s %s", self.url, answer.status_code,
                        _detail(answer))
        return answer.status_code == 204

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.post(path, **kwargs)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"console {self.url} unreachable: {exc}") from exc

    def _partly_refused(self, answer: dict[str, Any]) -> int:
        self.refused += int(answer.get("refused", 0))
        for error in answer["errors"][:5]:
            log.error("console %s refused line %s of a batch: %s", self.url, error["line"],
                      error["reason"])
        return int(answer.get("accepted", 0))


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(answer: httpx.Response) -> str:
    return str(_json(answer).get("detail") or answer.text[:200])


class ConsoleSink(SpooledSink):
    """The sensor's spool, delivered to a console, with heartbeats every ``heartbeat_s``."""

    def __init__(self, settings: Settings,
                 counters: Callable[[], SensorCounters] = SensorCounters) -> None:
        config = settings.sensor.sink
        if config is None:
            raise ValueError("sensor.sink is not configured")
        spool_config = settings.pipelines.spool
        folder = Path(spool_config.path) / f"console-{spool_folder_name(config.url)}"
        spool = open_spool(folder, max_bytes=spool_config.max_mb << 20,
                           segment_bytes=spool_config.segment_mb << 20,
                           observer=settings.sensor.name)
        self.ingest = ConsoleIngest(config)
        self.name, self.counters = settings.sensor.name, counters
        self.shipped = 0
        self.started = datetime.now(UTC)
        super().__init__(spool, self.ingest, batch_size=config.batch_size,
                         backoff=Backoff(first_s=0.2, max_s=10.0), owns_store=True)
        self._beating = threading.Event()
        self._heartbeats = threading.Thread(target=self._beat_until_closed,
                                            args=(config.heartbeat_s,),
                                            name="console-heartbeat", daemon=True)
        self._heartbeats.start()

    def write(self, events: Sequence[Event]) -> None:
        super().write(events)
        self.shipped += len(events)

    def heartbeat(self) -> dict[str, Any]:
        """The heartbeat as sent: counters of this run."""
        counters = self.counters()
        return {"name": self.name, "version": __version__, "packets": counters.packets,
                "drops": counters.drops, "events": self.shipped, "lag": max(0.0, counters.lag_s),
                "started": self.started.isoformat()}

    def close(self, timeout: float = 5.0) -> None:
        self._beating.set()
        self._heartbeats.join(timeout)
        super().close(timeout)

    def _beat_until_closed(self, interval_s: float) -> None:
        while True:
            self.ingest.heartbeat(self.heartbeat())
            if self._beating.wait(interval_s):
                break
        self.ingest.heartbeat(self.heartbeat())
