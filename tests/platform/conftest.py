"""Fixtures for the platform tests that run real `flask worker` processes against a redis-server of their own
(`private_redis`, in tests/conftest.py)."""
from __future__ import annotations

import pytest

from tests.conftest import make_test_app, start_worker
from tests.platform.sample_jobs import dispose_app, stop_process


@pytest.fixture()
def workers(backend, private_redis):
    """Start `flask worker` processes against the private Redis; all stopped (horses too) at the end."""
    started = []

    def _start(beat: bool = False, **env: str):
        proc = start_worker(backend, beat=beat, **{"REDIS_URL": private_redis.url, **env})
        started.append(proc)
        assert proc.poll() is None, "the worker exited at start"
        return proc

    yield _start
    for proc in started:
        stop_process(proc)


@pytest.fixture()
def app_on_private_redis(backend, private_redis):
    """A second app (same database) whose queue is the private Redis: `app_on_private_redis(**config)`."""
    made = []

    def _make(**config):
        made.append(make_test_app(backend, REDIS_URL=private_redis.url, JOB_RECONCILE_GRACE_SECONDS=0, **config))
        return made[-1]

    yield _make
    for app in made:
        dispose_app(app)
