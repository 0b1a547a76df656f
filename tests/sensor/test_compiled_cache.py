"""The cache of compiled decoder objects: read back only when safe, and the NGAP decoder it
holds decodes every message of a real capture, and corrupted copies, as the imported one."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensor.analyzers import ngap
from sensor.analyzers.base import AnalyzerSpec, Parsed
from sensor.capture import CaptureFile
from sensor.codecs.compiled import Cache
from sensor.engine import Sensor
from tests.utils.pcaps import PCAPS

NGAP_CAPTURE = PCAPS / "open5gs__open5gs/docs__assets__pcapng__testregistration.pcapng"


def counting(value: Any) -> tuple[Callable[[], Any], list[int]]:
    calls: list[int] = []

    def build() -> Any:
        calls.append(1)
        return value
    return build, calls


def cached_file(folder: Path) -> Path:
    (path,) = folder.glob("*.pickle")
    return path


def test_an_object_is_built_once_and_read_from_the_file_afterwards(tmp_path: Path) -> None:
    build, calls = counting({"ids": [1, 2, 3]})
    assert Cache(tmp_path).load("ids", ("json",), build) == {"ids": [1, 2, 3]}
    assert Cache(tmp_path).load("ids", ("json",), build) == {"ids": [1, 2, 3]}
    assert len(calls) == 1
    assert cached_file(tmp_path).stat().st_mode & 0o077 == 0


def test_another_source_module_makes_another_file(tmp_path: Path) -> None:
    Cache(tmp_path).load("x", ("json",), lambda: 1)
    assert Cache(tmp_path).load("x", ("csv",), lambda: 2) == 2
    assert len(list(tmp_path.glob("x-*.pickle"))) == 2


@pytest.mark.parametrize("mode", [0o620, 0o602])
def test_a_file_others_can_write_is_not_read(tmp_path: Path, mode: int) -> None:
    Cache(tmp_path).load("x", ("json",), lambda: "trusted")
    cached_file(tmp_path).chmod(mode)
    build, calls = counting("rebuilt")
    assert Cache(tmp_path).load("x", ("json",), build) == "rebuilt"
    assert calls == [1]


def test_a_folder_others_can_write_is_not_read_from(tmp_path: Path) -> None:
    Cache(tmp_path).load("x", ("json",), lambda: "trusted")
    tmp_path.chmod(0o777)
    assert Cache(tmp_path).load("x", ("json",), lambda: "rebuilt") == "rebuilt"


def test_a_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    Cache(tmp_path).load("x", ("json",), lambda: list(range(1000)))
    path = cached_file(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    assert Cache(tmp_path).load("x", ("json",), lambda: "rebuilt") == "rebuilt"
    assert Cache(tmp_path).load("x", ("json",), lambda: "again") == "rebuilt"


def test_a_folder_that_is_a_file_only_costs_the_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert Cache(blocker).load("x", ("json",), lambda: 7) == 7


@pytest.fixture(scope="module")
def ngap_inputs() -> tuple[list[bytes], list[bytes]]:
    """Every NGAP message of the capture as SCTP delivers it to the analyzer, and damaged
    copies of each: ten with one bit flipped, one cut short."""
    spec = AnalyzerSpec(name="ngap", transport="sctp", ports=(38412,), probe=lambda data: True,
                        parse=lambda data, _: Parsed(data, len(data)),
                        to_event=lambda data, _: {"ngap": {"raw": data.hex()}}, ppids=(60,))
    sensor = Sensor("t", analyzers=(spec,), strict=True)
    events = [e for block in CaptureFile(NGAP_CAPTURE).blocks(4096)
              for e in sensor.process_block(block)]
    messages = [bytes.fromhex(e["ngap"]["raw"]) for e in events if "ngap" in e]
    rng = random.Random(38412)
    damaged = []
    for message in messages:
        for _ in range(10):
            flipped = bytearray(message)
            flipped[rng.randrange(len(message))] ^= 1 << rng.randrange(8)
            damaged.append(bytes(flipped))
        damaged.append(message[:rng.randrange(1, len(message))])
    return messages, damaged


def decoded(codec: Any, message: bytes) -> tuple[str, str]:
    try:
        codec.from_aper(message)
    except Exception as exc:   # the analyzer's own rule: any failure means "not NGAP"
        return "error", f"{type(exc).__name__}: {exc}"
    return "value", repr(codec.get_val())


def outcomes(codec: Any, inputs: list[bytes]) -> list[tuple[str, str]]:
    return [decoded(codec, message) for message in inputs]


def test_the_cached_ngap_decoder_decodes_as_the_imported_module(
        tmp_path: Path, ngap_inputs: tuple[list[bytes], list[bytes]]) -> None:
    Cache(tmp_path).load("ngap", ngap._SOURCES, ngap._import_ngap)
    from_file = Cache(tmp_path).load("ngap", ngap._SOURCES, lambda: pytest.fail("not cached"))
    imported = ngap._import_ngap()
    assert from_file.pdu is not imported.pdu
    messages, damaged = ngap_inputs
    assert len(messages) > 1000
    inputs = messages + damaged[::5]
    expected = outcomes(imported.pdu, inputs)
    assert outcomes(from_file.pdu, inputs) == expected
    kinds = Counter(kind for kind, _ in expected)
    assert kinds["error"] > 100 and kinds["value"] > len(messages)
    assert from_file.cause._cont["radioNetwork"]._cont["unspecified"] == 0


def test_the_decoder_without_pycrates_constraint_walks_decides_as_with_them(
        ngap_inputs: tuple[list[bytes], list[bytes]]) -> None:
    from pycrate_asn1rt.asnobj import ASN1Obj

    pdu = ngap._asn1().pdu
    messages, damaged = ngap_inputs
    assert ASN1Obj._SAFE_BND is False and "_SAFE_BND" not in vars(pdu)
    unchecked = outcomes(pdu, messages + damaged)
    ASN1Obj._SAFE_BND = True
    try:
        assert outcomes(pdu, messages + damaged) == unchecked
    finally:
        ASN1Obj._SAFE_BND = False
    assert Counter(kind for kind, _ in unchecked)["error"] > 1000
