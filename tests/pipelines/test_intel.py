"""Threat-intel indicators: CSV and STIX 2.1 files, matching, enrichment fields and alerts."""

from __future__ import annotations

import json

import pytest
import stix2

from liaowang.config import ConfigError, Settings
from liaowang.schema import validate
from pipelines.enrich import enrichments
from pipelines.enrich.intel import (
    IndicatorSet,
    IntelEnrichment,
    load_csv,
    load_indicators,
    load_stix,
)

CSV = """\
indicator,type,description,severity
203.0.113.66,ip,Known scanner,high
198.51.100.0/24,cidr,Bulletproof hosting,
# a comment row
evil.example,domain,C2 domain,critical
"""


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def indicator(pattern: str, **extra) -> stix2.Indicator:
    return stix2.Indicator(pattern=pattern, pattern_type="stix", name=extra.pop("name", "x"),
                           valid_from="2024-01-01T00:00:00Z", allow_custom=True, **extra)


def bundle(tmp_path, *objects) -> str:
    return write(tmp_path, "intel.json", stix2.Bundle(*objects, allow_custom=True).serialize())


def sbi(source: str, destination: str, domain: str | None = None) -> dict:
    event = {"@timestamp": "2024-05-01T10:00:00.000000Z", "observer": {"name": "tap"},
             "event": {"id": "e1", "kind": "event", "dataset": "sbi"},
             "source": {"ip": source, "port": 40000},
             "destination": {"ip": destination, "port": 7777},
             "network": {"transport": "tcp", "protocol": "http2"},
             "http": {"request": {"method": "GET"}}, "url": {"path": "/nnrf-disc/v1"},
             "sbi": {"service": "nnrf-disc", "stream_id": 1}, "pcap": {"frame": 9}}
    if domain:
        event["url"]["domain"] = domain
    return event


def test_csv_rows_become_indicators(tmp_path) -> None:
    found = load_csv(write(tmp_path, "intel.csv", CSV), severity=2)
    assert [(i.value, i.type, i.severity) for i in found] == [
        ("203.0.113.66", "ip", 3), ("198.51.100.0/24", "cidr", 2), ("evil.example", "domain", 4)]
    assert found[0].description == "Known scanner" and found[0].provider == "intel.csv"
    assert found[2].id == "intel.csv:5"


@pytest.mark.parametrize(("row", "reason"), [
    ("203.0.113.300,ip,,", "does not appear to be an IPv4 or IPv6 address"),
    ("10.0.0.0/40,cidr,,", "network"),
    ("bad domain!,domain,,", "not a domain name"),
    ("203.0.113.1,url,,", "type 'url'"),
    ("203.0.113.1,ip,,urgent", "severity 'urgent'"),
])
def test_a_bad_csv_row_is_refused_with_its_line(tmp_path, row, reason) -> None:
    path = write(tmp_path, "bad.csv", CSV + row + "\n")
    with pytest.raises(ConfigError) as refused:
        load_csv(path)
    assert refused.value.path == path and refused.value.line == 6
    assert reason in refused.value.reason


def test_a_csv_without_the_columns_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"bad.csv:1: the header lacks type"):
        load_csv(write(tmp_path, "bad.csv", "indicator,kind\n1.2.3.4,ip\n"))


def test_stix_indicators_of_addresses_and_domains(tmp_path) -> None:
    path = bundle(tmp_path,
                  indicator("[ipv4-addr:value = '203.0.113.66']", name="Scanner",
                            x_severity="high"),
                  indicator("[ipv4-addr:value ISSUBSET '198.51.100.0/24'] OR "
                            "[domain-name:value = 'Evil.Example']"),
                  indicator("[ipv6-addr:value = '2001:db8::6']"),
                  indicator("[file:hashes.'SHA-256' = "
                            "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']"),
                  indicator("[ipv4-addr:value = '192.0.2.1'] AND [domain-name:value = 'x.test']"),
                  stix2.Identity(name="not an indicator"))
    found, skipped = load_stix(path, severity=2)
    assert {(i.value, i.type, i.severity) for i in found} == {
        ("203.0.113.66", "ip", 3), ("198.51.100.0/24", "cidr", 2), ("evil.example", "domain", 2),
        ("2001:db8::6", "ip", 2)}
    assert skipped == 2   # the file hash and the AND of two observations
    scanner = next(i for i in found if i.value == "203.0.113.66")
    assert scanner.description == "Scanner" and scanner.id.startswith("indicator--")


def test_a_bad_stix_entry_is_refused_naming_it(tmp_path) -> None:
    good = json.loads(stix2.Bundle(indicator("[ipv4-addr:value = '203.0.113.66']")).serialize())
    broken = dict(good["objects"][0], id="indicator--00000000-0000-4000-8000-000000000001",
                  pattern="[ipv4-addr:value = ")
    good["objects"].append(broken)
    path = write(tmp_path, "intel.json", json.dumps(good))
    with pytest.raises(ConfigError) as refused:
        load_stix(path)
    assert refused.value.key == "objects[1] indicator--00000000-0000-4000-8000-000000000001"
    assert str(refused.value).startswith(path)


@pytest.mark.parametrize(("text", "reason"), [
    ('{"type": "bundle", "objects": [', "not JSON"),
    ('{"type": "bundle"}', "no list of 'objects'"),
])
def test_a_file_that_is_not_a_bundle_is_refused(tmp_path, text, reason) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_stix(write(tmp_path, "intel.json", text))


def test_unknown_files_and_missing_files_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"are \.csv or \.json"):
        load_indicators([write(tmp_path, "intel.txt", "1.2.3.4")])
    with pytest.raises(ConfigError, match="No such file"):
        load_indicators([str(tmp_path / "absent.csv")])


def test_domains_match_themselves_and_names_below_them(tmp_path) -> None:
    indicators = IndicatorSet(load_csv(write(tmp_path, "intel.csv", CSV)))
    assert indicators.domain("evil.example").value == "evil.example"
    assert indicators.domain("nrf.EVIL.example.").value == "evil.example"
    assert indicators.domain("example") is None and indicators.domain("notevil.example") is None
    assert indicators.address("198.51.100.200").type == "cidr"
    assert indicators.address("203.0.113.67") is None


def test_a_match_enriches_the_event_and_raises_an_alert(tmp_path) -> None:
    step = IntelEnrichment.from_files([write(tmp_path, "intel.csv", CSV)])
    event = sbi("10.0.0.1", "203.0.113.66", domain="nrf.evil.example")
    out = step([event, sbi("10.0.0.1", "10.0.0.2")])
    assert len(out) == 4   # two events, then one alert per match
    matched = event["threat"]["enrichments"]
    assert matched["matched"] == {"atomic": ["203.0.113.66", "nrf.evil.example"],
                                  "field": ["destination.ip", "url.domain"]}
    assert matched["indicator"]["severity"] == [3, 4]
    by_address, by_domain = out[2:]
    assert by_address["rule"]["id"] == by_domain["rule"]["id"] == "liaowang-intel-match"
    assert by_address["event"]["severity"] == 3 and by_domain["event"]["severity"] == 4
    assert by_address["threat"]["indicator"]["name"] == "203.0.113.66"
    assert by_address["evidence"] == {"event_ids": ["e1"], "frames": [9]}
    assert "Known scanner" in by_address["event"]["reason"]
    assert by_address["event"]["id"] != by_domain["event"]["id"]
    assert "threat" not in out[1]
    for document in out:
        assert validate(document) == []


def test_alerts_are_not_matched_again(tmp_path) -> None:
    step = IntelEnrichment.from_files([write(tmp_path, "intel.csv", CSV)])
    alert = sbi("203.0.113.66", "10.0.0.2")
    alert["event"]["kind"] = "alert"
    assert step([alert]) == [alert] and "threat" not in alert


def test_configured_files_add_the_step_before_fusion(tmp_path) -> None:
    settings = Settings(intel={"files": [write(tmp_path, "intel.csv", CSV)]},
                        privacy={"subscriber_ids": "clear"})
    steps = enrichments(settings)
    assert [type(step).__name__ for step in steps][:2] == ["IntelEnrichment", "Fusion"]
    out = steps[0]([sbi("203.0.113.66", "10.0.0.2")])
    out = steps[1](out)
    assert out[1]["event"]["risk_score"] > 0
