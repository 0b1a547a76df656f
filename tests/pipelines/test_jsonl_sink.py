"""JSON lines come out the same whichever way the sink reaches the stream."""

from __future__ import annotations

import io
import json
from pathlib import Path

from pipelines.sinks.jsonl import JsonlSink

EVENTS = [{"event": {"id": "a"}, "ngap": {"ran_node_name": "gNB-北京"}},
          {"event": {"id": "b"}, "values": [1, 2.5, None, True]}]
EXPECTED = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for e in EVENTS)


def test_a_file_gets_utf8_lines_after_what_the_text_layer_held(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink.open(str(path))
    sink.stream.write("# earlier text\n")     # still in the text layer's buffer
    sink.write(EVENTS)
    sink.write(EVENTS[:1])
    sink.close()
    assert path.read_text(encoding="utf-8") == "# earlier text\n" + EXPECTED + \
        EXPECTED.splitlines(keepends=True)[0]


def test_a_text_only_stream_gets_the_same_lines() -> None:
    out = io.StringIO()
    JsonlSink(out).write(EVENTS)
    assert out.getvalue() == EXPECTED


def test_a_stream_of_another_encoding_is_written_through_its_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("w", encoding="utf-16") as stream:
        JsonlSink(stream).write(EVENTS)
    assert path.read_text(encoding="utf-16") == EXPECTED
