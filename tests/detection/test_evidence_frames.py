"""An anomaly alert's evidence frames are those of its own capture file, from which the console
exports its packets; events of other files of the replay are in its ids alone."""

from __future__ import annotations

from detection.alerts import anomaly_alert
from detection.features import Window


def test_an_anomaly_window_across_files_keeps_the_frames_of_the_alerts_file() -> None:
    window = Window(pair="10.0.0.1 -> 10.0.0.2", dataset="modbus", start_us=0,
                    length_us=60_000_000)
    window.evidence_ids = ["e1", "e2", "e3"]
    window.evidence_frames = [(7, "/caps/a.pcap"), (1, "/caps/b.pcap"), (4, "/caps/b.pcap")]
    window.last_event = {"pcap": {"file": "b.pcap", "frame": 4},
                         "log": {"file": {"path": "/caps/b.pcap"}},
                         "source": {"ip": "10.0.0.1"}, "destination": {"ip": "10.0.0.2"}}

    alert = anomaly_alert(window, 0.9, 0.5, {"name": [], "observed": [], "expected": []}, "m")

    assert alert["evidence"] == {"event_ids": ["e1", "e2", "e3"], "frames": [1, 4]}
