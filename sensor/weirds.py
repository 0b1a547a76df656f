"""Sampling of weird events, so that hostile or broken traffic cannot flood the store.

Every weird is counted; not every one becomes an event. As in Zeek's weird sampling, the first
``first`` weirds of a name are reported, then one in ``then_every``, and each reported weird
carries its ordinal in ``weird.count``. Weirds of a flow's analyzer are counted per flow and name
(a flow's total is in its flow event's ``flow.weird_count``); weirds of packets that belong to
no flow (undecodable headers) are counted per name, and their count starts again after
``window_ns`` of capture time.

>>> sampler = WeirdSampler(first=2, then_every=10, window_ns=10**9)
>>> [n for n in range(1, 31) if sampler.reports(n)]
[1, 2, 10, 20, 30]
>>> [sampler.packet_count("truncated_tcp", ts) for ts in (0, 1, 2, 10**9 + 5)]
[1, 2, 3, 1]
"""

from __future__ import annotations

from liaowang.config import WeirdSettings

NS_PER_S = 1_000_000_000
# names are the decoder's own, a link type's number among them: only a hostile capture with
# thousands of link types reaches this bound
MAX_PACKET_NAMES = 4096


class WeirdSampler:
    """Which weirds to report."""

    def __init__(self, first: int = 20, then_every: int = 1000,
                 window_ns: int = 600 * NS_PER_S) -> None:
        self.first, self.then_every, self.window_ns = first, then_every, window_ns
        self._packet_weirds: dict[str, tuple[int, int]] = {}   # name: (window start, count)

    @classmethod
    def from_settings(cls, settings: WeirdSettings) -> WeirdSampler:
        return cls(settings.first, settings.then_every, int(settings.window_s * NS_PER_S))

    def reports(self, count: int) -> bool:
        """Whether the ``count``-th weird of its kind becomes an event."""
        return count <= self.first or count % self.then_every == 0

    def packet_count(self, name: str, ts_ns: int) -> int:
        """The ordinal of a weird named ``name`` of a packet outside any flow, seen at
        ``ts_ns``, within its window."""
        start, count = self._packet_weirds.get(name, (ts_ns, 0))
        if ts_ns - start >= self.window_ns:
            start, count = ts_ns, 0
        elif len(self._packet_weirds) >= MAX_PACKET_NAMES and name not in self._packet_weirds:
            self._packet_weirds.clear()
        self._packet_weirds[name] = (start, count + 1)
        return count + 1
