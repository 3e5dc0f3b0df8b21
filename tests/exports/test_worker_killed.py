"""A worker killed mid-export (work-horse too): the request ends failed, and no file is ever served.

Services mode only, like tests/platform/test_jobs_processes.py: the embedded
queue runs inside the test process, so there is no worker process to kill.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.exports import services
from app.exports.models import ExportRequest
from app.platform import storage
from app.platform.jobs import reconcile
from tests.exports.conftest import add_entries
from tests.factories import make_member, make_organization
from tests.platform.sample_jobs import descendants, fresh, kill_now, wait_for_row

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"),
    reason="mode restriction, not a missing service: killing a worker process needs the services backend",
)


def test_killed_worker_leaves_the_export_failed_and_serves_nothing(app_on_private_redis, workers):  # noqa: F811
    app = app_on_private_redis(JOB_STALE_AFTER_SECONDS=3)
    # Small batches, each reported: the export is slow enough to be killed halfway.
    worker = workers(JOB_MONITORING_INTERVAL="1", EXPORTS_BATCH_SIZE="20", EXPORTS_REPORT_EVERY_BATCH="1")
    with app.app_context():
        org = make_organization("Crash Exports")
        user = make_member(org, "admin", "crash@exports.example.com")
        add_entries(user, 30_000)
        folder = Path(app.config["STORAGE_DIR"]) / "exports" / str(org.id)
        before = set(folder.glob("*"))  # earlier tests' files (same organization id after the reset)
        row = services.export_request_create(actor=services.Actor(user), title="Doomed", format="json",
                                             dataset="time_entries", fields=["date", "project", "description"])
        row_id = row.id
        wait_for_row(row_id, lambda r: r.status == "processing" and r.progress > 5, what="running",
                     model=ExportRequest)
        kill_now(worker.pid, *descendants(worker.pid))
        worker.wait(10)
        killed_at = time.time()
        while True:
            reconcile()
            row = fresh(row_id, ExportRequest)
            if row.status != "processing":
                break
            assert time.time() - killed_at < 30, "the export stayed processing"
            time.sleep(0.5)
        assert row.status == "failed" and "stopped responding" in row.error_message
        assert row.file_path == "" and row.file_size is None
        with pytest.raises(services.ExportError):
            services.export_download_token(user=user, request=row)
        leftovers = set(folder.glob("*")) - before
        assert all(p.name.endswith(storage.PARTIAL_SUFFIX) for p in leftovers), leftovers
        storage.sweep_partials(max_age_seconds=0)
        assert set(folder.glob("*")) - before == set()
