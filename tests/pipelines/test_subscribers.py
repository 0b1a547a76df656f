"""Subscriber identifiers are pseudonymised before any sink, with a key that makes them stable."""

from __future__ import annotations

import os
import stat

import pytest

from liaowang.config import PrivacySettings, Settings
from pipelines.enrich import EnrichedSinks, enrichments
from pipelines.enrich.subscribers import IN_TEXT, SubscriberIds, load_or_create_key
from tests.utils.events import KeptEvents

KEY = b"0123456789abcdef0123456789abcdef"
IMSI = "001010123456789"



def sbi_event(path: str) -> dict:
    return {"event": {"dataset": "sbi", "kind": "event"}, "url": {"path": path}}


def test_the_same_subscriber_gets_the_same_pseudonym_in_every_protocol() -> None:
    ids = SubscriberIds(KEY)
    path = ids.text(f"/nudm-sdm/v2/imsi-{IMSI}/am-data")
    assert IMSI not in path
    assert path == f"/nudm-sdm/v2/imsi-{ids.pseudonym(IMSI)}/am-data"
    assert ids.pseudonym(IMSI) == SubscriberIds(KEY).pseudonym(IMSI)


def test_another_key_gives_another_pseudonym() -> None:
    assert SubscriberIds(KEY).pseudonym(IMSI) != SubscriberIds(KEY[::-1]).pseudonym(IMSI)


@pytest.mark.parametrize("text", [
    f"imsi-{IMSI}", "msisdn-8613800138000", "imei-490154203237518",
    "suci-0-001-01-0000-0-0-0000000001", "imeisv-4370816125816151",
])
def test_identifiers_inside_text_are_found(text: str) -> None:
    assert IN_TEXT.fullmatch(text)
    protected = SubscriberIds(KEY).text(f"/a/{text}/b")
    assert text not in protected and protected.startswith("/a/") and protected.endswith("/b")


def test_text_without_identifiers_is_unchanged() -> None:
    path = "/nnrf-nfm/v1/nf-instances/6a5c2e3a-8ed7-41ee-b4a1-2d43b2e4a0b1"
    assert SubscriberIds(KEY).text(path) == path


def test_events_of_other_datasets_are_left_alone() -> None:
    event = {"event": {"dataset": "modbus", "kind": "event"}, "url": {"path": f"imsi-{IMSI}"}}
    assert SubscriberIds(KEY)([event])[0]["url"]["path"] == f"imsi-{IMSI}"


def test_protecting_twice_changes_nothing_more() -> None:
    ids = SubscriberIds(KEY)
    once = ids([sbi_event(f"/x/imsi-{IMSI}")])[0]["url"]["path"]
    assert ids([sbi_event(once)])[0]["url"]["path"] == once


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SubscriberIds(b"short")


def test_a_missing_key_file_is_created_private_and_then_reused(tmp_path) -> None:
    path = tmp_path / "keys" / "pseudonym.key"
    first = load_or_create_key(path)
    assert len(first) == 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == first


def test_the_default_configuration_pseudonymises_and_clear_mode_does_not(tmp_path) -> None:
    privacy = PrivacySettings(key_file=str(tmp_path / "k"))
    steps = enrichments(Settings(privacy=privacy))
    collected = KeptEvents()
    EnrichedSinks(steps, [collected]).write([sbi_event(f"/x/imsi-{IMSI}")])
    assert IMSI not in collected.events[0]["url"]["path"]

    clear = enrichments(Settings(privacy=PrivacySettings(subscriber_ids="clear")))
    collected = KeptEvents()
    EnrichedSinks(clear, [collected]).write([sbi_event(f"/x/imsi-{IMSI}")])
    assert collected.events[0]["url"]["path"] == f"/x/imsi-{IMSI}"


def test_a_bare_msisdn_inside_a_diameter_session_id_is_replaced() -> None:
    ids = SubscriberIds(KEY)
    session = "pcrf.example.com;469863012;1411019410;886987175205"
    event = {"event": {"dataset": "diameter", "kind": "event"},
             "diameter": {"session_id": session}}
    assert ids([event])[0]["diameter"]["session_id"] == \
        f"pcrf.example.com;469863012;1411019410;{ids.pseudonym('886987175205')}"
