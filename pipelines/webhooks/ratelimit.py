"""A token bucket: ``per_minute`` messages a minute on average, bursts of up to as many.

>>> now = [0.0]
>>> bucket = TokenBucket(2, clock=lambda: now[0])
>>> bucket.take(2), bucket.take(1), bucket.wait_s()
(True, False, 30.0)
>>> now[0] = 30.0; bucket.take(1)
True
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.per_s = per_minute / 60.0
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()

    def take(self, count: int = 1) -> bool:
        """Take ``count`` tokens if there are as many; otherwise take none."""
        self._refill()
        if self.tokens + 1e-9 < count:
            return False
        self.tokens -= count
        return True

    def wait_s(self) -> float:
        """Seconds until one token is there."""
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.per_s)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_s)
        self.updated = now
