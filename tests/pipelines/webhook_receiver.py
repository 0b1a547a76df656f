"""A webhook receiver on loopback for the tests: a real HTTP server that refuses the first
requests it is told to, checks generic signatures (with its own HMAC code, not Liaowang's) and
counts idempotency keys."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

MAX_SIGNATURE_AGE_S = 300


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int
    at: float
    signature_ok: bool | None

    def json(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """``refuse`` first requests get ``refuse_status`` (with ``retry_after`` when given); the
    others get 200 and ``reply``. With ``secret``, a request without a valid, fresh
    ``X-Liaowang-Signature`` gets 401."""

    secret: str | None = None
    refuse: int = 0
    refuse_status: int = 503
    retry_after: str | None = None
    reply: bytes = b"ok"
    port: int = 0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status == 200]

    def keys(self) -> list[str]:
        return [r.headers.get("idempotency-key", "") for r in self.accepted]

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        signature_ok = self._signature_ok(headers, body) if self.secret else None
        with self._lock:
            refusing = len(self.received) < self.refuse
            status = self.refuse_status if refusing else 401 if signature_ok is False else 200
            parts = urlsplit(path)
            self.received.append(Received(parts.path, parse_qs(parts.query), headers, body,
                                          status, time.monotonic(), signature_ok))
        return status, self.reply if status == 200 else b"not now"

    def _signature_ok(self, headers: dict[str, str], body: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in headers.get("x-liaowang-signature", "").split(",")
                     if "=" in p)
        if not parts.get("t", "").isdigit():
            return False
        mac = hmac.new(self.secret.encode(), parts["t"].encode() + b"." + body,
                       hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(parts["t"])) <= MAX_SIGNATURE_AGE_S
        return fresh and hmac.compare_digest(mac, parts.get("v1", ""))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply = receiver._answer(self.path, headers, body)
                self.send_response(status)
                if status != 200 and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
