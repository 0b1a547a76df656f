"""The cheap test in front of the identifier regex never says "no" where the regex finds one."""

from __future__ import annotations

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipelines.enrich.subscribers import IN_TEXT, SubscriberIds, _may_hold_identifier

KEY = b"0123456789abcdef0123456789abcdef"
# Letters the regex cares about, separators it treats differently, and non-ASCII digits/letters
PIECES = st.sampled_from([
    "imsi-", "msisdn-", "imeisv-", "imei-", "supi-", "gpsi-", "suci-0-001-01-0000-0-0-",
    "0", "1", "9", "12345", "123456789012", "a", "_", ".", ":", "-", "/", " ", '"', "[", ",",
    "é", "\u0663", "\n",
    # parts of the words, and letters before hyphens that end no word (a GUTI, a MAC address)
    "i", "n", "v", "ms", "si", "imei", "sd", "gut", "guti-", "EE-", "B-", "I-",
])


@settings(max_examples=3000)
@given(st.lists(PIECES, max_size=14).map("".join))
@example("12345678901")
@example("{\"a\":[1,12345678901]}")
@example("x/\u0663\u0663\u0663\u0663\u0663\u0663\u0663\u0663\u0663\u0663\u0663")
@example("5g-guti-00101 then imsi-001010000000001")
def test_no_text_the_regex_matches_is_turned_away(text: str) -> None:
    if IN_TEXT.search(text):
        assert _may_hold_identifier(text)


def test_numbers_after_a_key_or_in_a_word_do_not_need_the_regex() -> None:
    assert not _may_hold_identifier(orjson.dumps({"pfcp": {"seid": 3602879701896398137},
                                                  "name": "x12345678901"}).decode())
    assert _may_hold_identifier(orjson.dumps({"session_id": "h;12345678901"}).decode())


def test_an_identifier_in_text_is_still_replaced() -> None:
    event = {"event": {"dataset": "diameter", "kind": "event"},
             "diameter": {"session_id": "pcscf;1;8613800138000"}}
    SubscriberIds(KEY)([event])
    assert "8613800138000" not in event["diameter"]["session_id"]
