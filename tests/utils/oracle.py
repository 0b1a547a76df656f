"""Liaowang's analyzer events against tshark's dissection of the same captures.

An oracle test names a tshark layer and two key functions: one turns a PDU tshark decoded
(:class:`TsharkPdu`, every field of one instance of the layer, flattened) into a tuple of
values, the other turns a Liaowang event into the same tuple. :class:`Agreement` counts, per
frame, the keys both found and lists every disagreement, so a test can require a ratio and
explain each one it tolerates.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import shutil
import subprocess
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None,
                                  reason="tshark not installed; make test installs it")

Endpoints = frozenset[tuple[str, int]]
Key = tuple[Any, ...]
TRANSPORTS = ("tcp", "udp", "sctp")
IMPAIRED = ("tcp.analysis.retransmission or tcp.analysis.lost_segment or "
            "tcp.analysis.out_of_order or tcp.analysis.ack_lost_segment or "
            "tcp.analysis.spurious_retransmission or tcp.analysis.reused_ports")


@dataclass(frozen=True, slots=True)
class TsharkPdu:
    """One instance of a protocol layer in one frame, as tshark dissected it."""

    frame: int
    stream: Endpoints
    fields: dict[str, list[str]]

    def first(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else default

    def int(self, name: str, default: int | None = None) -> int | None:
        """A numeric field (decimal or 0x-hex, as tshark prints it)."""
        value = self.first(name)
        return default if value is None else int(value, 0)


CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "liaowang" / "tshark"


def tshark(path: Path, *args: str) -> str:
    """tshark's output for a capture, kept in the user's cache: tshark is deterministic, so the
    same version, capture bytes and arguments give the same output on the next run."""
    command = ["tshark", "-n", "-r", str(path), *args]
    return _cached(_cache_key(path, args), lambda: subprocess.run(
        command, capture_output=True, text=True, check=True).stdout.encode()).decode()


def _cached(key: str, compute: Callable[[], bytes]) -> bytes:
    entry = CACHE / key
    try:
        return zlib.decompress(entry.read_bytes())
    except (OSError, zlib.error):
        pass
    out = compute()
    entry.parent.mkdir(parents=True, exist_ok=True)
    partial = entry.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
    partial.write_bytes(zlib.compress(out, 1))
    partial.replace(entry)
    return out


@functools.cache
def _tshark_version() -> str:
    return subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout[:200]


def _cache_key(path: Path, args: tuple[str, ...]) -> str:
    digest = hashlib.sha256(_tshark_version().encode())
    digest.update(_file_digest(path))
    digest.update("\0".join(args).encode())
    return digest.hexdigest() + ".z"


@functools.lru_cache(maxsize=1024)
def _file_digest(path: Path) -> bytes:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def tshark_pdus(path: Path, layer: str, *options: str, display_filter: str | None = None,
                with_layers: tuple[str, ...] = (), frames: int | None = None
                ) -> list[TsharkPdu]:
    """Every instance of ``layer`` tshark dissects in ``path``. The fields of ``with_layers``
    (a header layer such as ``mbtcp`` or ``tpkt``) join each instance: zipped by position when
    a frame has as many of them, else all of them to every instance. ``options`` (``-d``,
    ``-o``) go to tshark as they are; ``frames`` stops after that many frames."""
    wanted = " ".join((layer, *with_layers))
    limit = ("-c", str(frames)) if frames else ()
    args = (*options, *limit, "-Y", display_filter or layer, "-T", "json",
            "--no-duplicate-keys", "-J", f"frame ip ipv6 tcp udp sctp {wanted}")
    # Parsing tshark's JSON takes longer than the analyzers under test, so the parsed PDUs are
    # kept too, keyed by this module's source as well.
    key = _cache_key(path, (*args, "#pdus", layer, *with_layers, _SOURCE_DIGEST))
    return pickle.loads(_cached(key, lambda: pickle.dumps(
        _parse_pdus(tshark(path, *args), layer, with_layers))))


_SOURCE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _parse_pdus(out: str, layer: str, with_layers: tuple[str, ...]) -> list[TsharkPdu]:
    pdus = []
    for packet in orjson.loads(out or "[]"):
        layers = packet["_source"]["layers"]
        frame = int(_flatten(layers["frame"])["frame.number"][0])
        stream = _stream(layers)
        instances = _instances(layers, layer)
        companions = [_instances(layers, name) for name in with_layers]
        for i, instance in enumerate(instances):
            fields = _flatten(instance)
            for extra in companions:
                chosen = [extra[i]] if len(extra) == len(instances) else extra
                for node in chosen:
                    _flatten(node, fields)
            pdus.append(TsharkPdu(frame, stream, fields))
    return pdus


def _instances(layers: dict[str, Any], name: str) -> list[Any]:
    found = layers.get(name, [])
    return found if isinstance(found, list) else [found]


def _flatten(node: Any, into: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    into = {} if into is None else into
    if isinstance(node, dict):
        for name, value in node.items():
            if isinstance(value, str):
                into.setdefault(name, []).append(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                into.setdefault(name, []).extend(value)
            else:
                _flatten(value, into)
    elif isinstance(node, list):
        for item in node:
            _flatten(item, into)
    return into


def _innermost(layers: dict[str, Any], name: str) -> dict[str, list[str]]:
    """The last instance of a layer that has addresses or ports (tshark lists an SCTP packet's
    bundled chunks as further ``sctp`` entries without them)."""
    found = layers.get(name)
    instances = found if isinstance(found, list) else [found] if found else []
    for instance in reversed(instances):
        fields = _flatten(instance)
        if any(key.endswith(("srcport", ".src")) for key in fields):
            return fields
    return {}


def _stream(layers: dict[str, Any]) -> Endpoints:
    ip = _innermost(layers, "ipv6") or _innermost(layers, "ip")
    prefix = "ipv6" if "ipv6.src" in ip else "ip"
    for transport in TRANSPORTS:
        ports = _innermost(layers, transport)
        if ports:
            return frozenset({(ip.get(f"{prefix}.src", [""])[0],
                               int(ports[f"{transport}.srcport"][0])),
                              (ip.get(f"{prefix}.dst", [""])[0],
                               int(ports[f"{transport}.dstport"][0]))})
    return frozenset()


def event_stream(event: dict[str, Any]) -> Endpoints:
    src, dst = event.get("source", {}), event.get("destination", {})
    return frozenset({(src.get("ip", ""), src.get("port", 0)),
                      (dst.get("ip", ""), dst.get("port", 0))})


def impaired_streams(path: Path, frames: int | None = None) -> set[Endpoints]:
    """TCP streams where tshark sees loss, retransmission or reordering: there the two
    reassemble differently (tshark dissects every segment; Liaowang each byte once, in order)."""
    limit = ("-c", str(frames)) if frames else ()
    rows = tshark(path, *limit, "-Y", IMPAIRED, "-T", "fields", "-e", "ip.src", "-e", "ipv6.src",
                  "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport")
    streams = set()
    for line in rows.splitlines():
        s4, s6, sp, d4, d6, dp = line.split("\t")
        streams.add(frozenset({(s4 or s6, int(sp)), (d4 or d6, int(dp))}))
    return streams


def in_parallel(function: Callable[[Path], Any], paths: Iterable[Path]) -> Iterator[Any]:
    """``function`` over ``paths`` two at a time (tshark runs are single-threaded)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield from pool.map(function, paths)


@dataclass
class Agreement:
    """PDUs tshark decoded and how many Liaowang reported with the same key on the same frame."""

    protocol: str
    tshark: int = 0
    matched: int = 0
    missing: list[tuple[str, int, Key]] = field(default_factory=list)   # tshark only
    extra: list[tuple[str, int, Key]] = field(default_factory=list)     # Liaowang only

    def add(self, capture: str, theirs: Iterable[tuple[int, Key]],
            ours: Iterable[tuple[int, Key]]) -> None:
        """Compare one capture's (frame, key) pairs."""
        their_count, our_count = Counter(theirs), Counter(ours)
        self.tshark += sum(their_count.values())
        self.matched += sum((their_count & our_count).values())
        for (frame, key), n in sorted((their_count - our_count).items()):
            self.missing += [(capture, frame, key)] * n
        for (frame, key), n in sorted((our_count - their_count).items()):
            self.extra += [(capture, frame, key)] * n

    @property
    def ratio(self) -> float:
        return self.matched / self.tshark if self.tshark else 1.0

    def unexplained(self, tolerated: dict[tuple[str, int], str]) -> list[str]:
        """Disagreements on frames ``tolerated`` does not explain (capture, frame → why)."""
        return [f"{kind} {capture}#{frame}: {key}"
                for kind, rows in (("tshark only", self.missing), ("liaowang only", self.extra))
                for capture, frame, key in rows if (capture, frame) not in tolerated]

    def report(self, tolerated: dict[tuple[str, int], str] | None = None) -> str:
        tolerated = tolerated or {}
        lines = [f"{self.protocol}: {self.matched}/{self.tshark} PDUs agree "
                 f"({100 * self.ratio:.2f} %), {len(self.extra)} reported only by Liaowang"]
        for kind, rows in (("tshark only", self.missing), ("liaowang only", self.extra)):
            for capture, frame, key in rows:
                why = tolerated.get((capture, frame), "UNEXPLAINED")
                lines.append(f"  {kind} {capture}#{frame} {key}: {why}")
        return "\n".join(lines)
