"""What the default job settings promise (the process tests run the same mechanism with shorter settings)."""
from __future__ import annotations

from app.config import Config
from app.platform.jobs import periodic_tasks


def test_a_dead_worker_is_found_within_30_seconds_by_default():
    # The last heartbeat is at most one monitoring interval before the death; the row fails at the first
    # reconcile after the heartbeat went stale.
    worst = Config.JOB_MONITORING_INTERVAL + Config.JOB_STALE_AFTER_SECONDS + Config.JOB_RECONCILE_INTERVAL_SECONDS
    assert worst <= 30
    task = periodic_tasks["reconcile-jobs"]
    assert task.interval_setting == "JOB_RECONCILE_INTERVAL_SECONDS" and task.interval_seconds == 10
    assert Config.PERIODIC_TICK_SECONDS <= Config.JOB_RECONCILE_INTERVAL_SECONDS  # the beat can keep up


def test_no_worker_is_reported_well_after_a_missed_heartbeat():
    assert Config.WORKER_ALIVE_SECONDS >= 3 * Config.WORKER_HEARTBEAT_SECONDS
