"""Sign-in failure counters: in Redis, shared by every web process; in this process while Redis is down.

A Redis outage must not lock everyone out (every sign-in answered 500): the
counters then live in this process's memory, so throttling still holds per
process (with N web processes an attacker gets at most N times the attempts)
until Redis answers again; then Redis's counters count again, and the ones in
memory expire on their own.
"""
from __future__ import annotations

import logging
import threading
import time

from redis.exceptions import RedisError

log = logging.getLogger("cairn.accounts")


class _LocalCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires at, monotonic)

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            del self._counts[key]
            return None
        return entry

    def get(self, key: str) -> int:
        with self._lock:
            entry = self._live(key)
            return entry[0] if entry else 0

    def ttl(self, key: str) -> int:
        with self._lock:
            entry = self._live(key)
            return int(entry[1] - time.monotonic()) if entry else 0

    def incr(self, key: str, window: int) -> None:
        with self._lock:
            entry = self._live(key)
            self._counts[key] = ((entry[0] if entry else 0) + 1, time.monotonic() + window)
            if len(self._counts) > 100_000:  # a flood of distinct keys: forget the oldest half
                for stale in sorted(self._counts, key=lambda k: self._counts[k][1])[:50_000]:
                    del self._counts[stale]

    def delete(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


_local = _LocalCounters()
_last_warning = 0.0


def _redis_failed(exc: Exception) -> None:
    global _last_warning
    if time.monotonic() - _last_warning > 60:  # once a minute, not once per sign-in
        _last_warning = time.monotonic()
        log.warning("Redis unavailable for sign-in throttling (%s); counting failures in this process", exc)


class SignInThrottle:
    """Failure counters for the given keys, over `redis` when it answers."""

    def __init__(self, redis) -> None:
        self.redis = redis

    def failures(self, key: str) -> int:
        try:
            return int(self.redis.get(key) or 0)
        except RedisError as exc:
            _redis_failed(exc)
            return _local.get(key)

    def seconds_left(self, *keys: str) -> int:
        try:
            return max(self.redis.ttl(k) or 0 for k in keys)
        except RedisError as exc:
            _redis_failed(exc)
            return max(_local.ttl(k) for k in keys)

    def record_failure(self, keys: tuple[str, ...], window: int) -> None:
        try:
            pipe = self.redis.pipeline()
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, window)
            pipe.execute()
        except RedisError as exc:
            _redis_failed(exc)
            for key in keys:
                _local.incr(key, window)

    def clear(self, key: str) -> None:
        _local.delete(key)
        try:
            self.redis.delete(key)
        except RedisError as exc:
            _redis_failed(exc)
