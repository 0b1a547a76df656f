"""Subscriber identifiers replaced by keyed pseudonyms before events reach any sink.

Fields the schema marks ``subscriber_id`` (IMSI, SUPI, SUCI, MSISDN, IMEI/PEI, Diameter
User-Name, ...) are replaced whole; identifiers written inside other text, such as the SUPI in an
SBI path (``/nudm-sdm/v2/imsi-001010000000001/am-data``), are replaced where they stand. A
pseudonym is ``pn:`` and the first 20 hex digits of HMAC-SHA256 over the identifier's digits (or
its text when it has letters), so one subscriber gets the same pseudonym from every protocol and
every sensor sharing the key, and nobody without the key can go back. Bare runs of 11 to 16
digits in the text of these datasets are taken for identifiers too (a Diameter Session-Id may end
with the MSISDN).

>>> ids = SubscriberIds(b"k" * 32)
>>> ids.pseudonym("001010123456789")
'pn:f2f759912edf41322234'
>>> ids.text("/nudm-sdm/v2/imsi-001010123456789/am-data")
'/nudm-sdm/v2/imsi-pn:f2f759912edf41322234/am-data'
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Any

import orjson

from liaowang.config import PrivacySettings
from liaowang.schema import DATASETS, SUBSCRIBER_IDS
from pipelines.sinks.base import Event

PREFIX = "pn:"
DIGITS = 20
IN_TEXT = re.compile(
    r"\b(imsi|msisdn|imeisv|imei|supi|gpsi)-(\d{5,16})\b"
    r"|\bsuci-(\d-\d{3}-\d{2,3}-[0-9a-fA-F]{1,4}-\d{1,2}-\d{1,3}-[0-9a-fA-F]+)"
    # A bare run of 11 to 16 digits is an IMSI, MSISDN or IMEI in these datasets (a Diameter
    # Session-Id's optional part, say); 32-bit counters have at most 10 digits.
    r"|(?<![\w.:-])(\d{11,16})(?![\w.])")
CARRIERS = frozenset(
    {name for name, fields in DATASETS.items() if any(f in SUBSCRIBER_IDS for f in fields)}
    | {"sbi", "weird"})
FIELD_PATHS = {dataset: tuple(tuple(name.split(".")) for name in sorted(fields)
                              if name in SUBSCRIBER_IDS)
               for dataset, fields in DATASETS.items()}
# What IN_TEXT needs at the least, checked at C speed before the regex runs over a whole event:
# one of its words, or 11 digits after a character that is none of [A-Za-z0-9_.:-]. In the
# classes a digit is 0, a hyphen stays, the letters that end the words (i, n, v) are w, other
# letters and [_.:] are a: a word needs "w-", which most events hold nowhere (MAC addresses are
# upper case, times have digits before their hyphens).
IN_TEXT_WORDS = ("imsi-", "msisdn-", "imeisv-", "imei-", "supi-", "gpsi-", "suci-")
WORD_ENDS = frozenset(word[-2] for word in IN_TEXT_WORDS)
CHARACTER_CLASSES = str.maketrans({
    chr(c): "0" if chr(c).isdigit() else "w" if chr(c) in WORD_ENDS else
    "a" if chr(c).isalpha() or chr(c) in "_.:" else "-" if chr(c) == "-" else " "
    for c in range(128)})


class SubscriberIds:
    """The pseudonymising enrichment; ``__call__`` changes a batch in place and returns it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key needs at least 16 bytes")
        self._key = key

    @classmethod
    def from_settings(cls, privacy: PrivacySettings) -> SubscriberIds:
        if privacy.key is not None:
            return cls(privacy.key.get_secret_value().encode())
        return cls(load_or_create_key(Path(privacy.key_file)))

    def __call__(self, events: list[Event]) -> list[Event]:
        for event in events:
            meta = event.get("event", {})
            if meta.get("dataset") in CARRIERS or meta.get("kind") == "alert":
                self._protect(event)
        return events

    def pseudonym(self, identifier: str) -> str:
        material = identifier if not identifier.isdigit() else identifier.lstrip("+")
        digest = hmac.new(self._key, material.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:DIGITS]

    def text(self, value: str) -> str:
        """``value`` with every identifier written inside it replaced."""
        return IN_TEXT.sub(self._replace_match, value)

    def _replace_match(self, match: re.Match[str]) -> str:
        if match.group(4) is not None:
            return self.pseudonym(match.group(4))
        if match.group(3) is not None:
            return "suci-" + self.pseudonym("suci-" + match.group(3))
        return f"{match.group(1)}-{self.pseudonym(match.group(2))}"

    def _protect(self, event: Event) -> None:
        for path in FIELD_PATHS.get(event["event"].get("dataset"), ()):
            _replace_at(event, path, self._whole)
        # One search over the serialised event first: most events carry no identifier in text.
        serialised = orjson.dumps(event).decode()
        if _may_hold_identifier(serialised) and IN_TEXT.search(serialised):
            _replace_strings(event, self.text)

    def _whole(self, value: Any) -> Any:
        if isinstance(value, str):
            return value if value.startswith(PREFIX) else self.pseudonym(value)
        if isinstance(value, list):
            return [self._whole(item) for item in value]
        return value


def _may_hold_identifier(text: str) -> bool:
    """False only when IN_TEXT cannot match ``text``: the regex costs ten times this test, and
    most events fail the test."""
    if not text.isascii():     # \w and \d take in letters and digits beyond ASCII
        return True
    classes = text.translate(CHARACTER_CLASSES)
    end = classes.find("w-")
    while end >= 0:     # where a word may end: does one?
        if text.endswith(IN_TEXT_WORDS, 0, end + 2):
            return True
        end = classes.find("w-", end + 2)
    return " 00000000000" in classes or classes.startswith("00000000000")


def _replace_at(event: Event, path: tuple[str, ...], change: Any) -> None:
    node: Any = event
    for part in path[:-1]:
        node = node.get(part)
        if not isinstance(node, dict):
            return
    if path[-1] in node:
        node[path[-1]] = change(node[path[-1]])


def _replace_strings(node: dict[str, Any], change: Any) -> None:
    for key, value in node.items():
        if isinstance(value, str):
            node[key] = change(value)
        elif isinstance(value, dict):
            _replace_strings(value, change)
        elif isinstance(value, list):
            node[key] = [change(v) if isinstance(v, str) else v for v in value]


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new random one written there (mode 0600) when it does not exist."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key + b"\n")
        return key
