"""Streaming: the writer's peak memory does not grow with the number of rows (no timing here; see bench/)."""
from __future__ import annotations

import tracemalloc

import pytest

from app.exports import services
from app.exports.models import ExportRequest
from app.extensions import db
from tests.exports.conftest import add_entries


def _peak_bytes(user, fmt: str) -> tuple[int, int]:
    row = services.export_request_create(actor=services.Actor(user), title="Big", format=fmt,
                                         dataset="time_entries",
                                         fields=["date", "member", "project", "task", "duration", "description"],
                                         submit=False)
    db.session.commit()
    row_id = row.id
    tracemalloc.start()
    try:
        services._export_write(db.session.get(ExportRequest, row_id), lambda *a, **k: None)
        db.session.commit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, db.session.get(ExportRequest, row_id).row_count


@pytest.mark.parametrize("fmt", ["csv", "json", "excel"])
def test_peak_memory_is_flat_in_the_row_count(people, app, monkeypatch, fmt):
    monkeypatch.setitem(app.config, "EXPORTS_BATCH_SIZE", 500)
    user = people["agent"]
    add_entries(user, 1_000, description="x" * 80)
    small, rows = _peak_bytes(user, fmt)
    assert rows == 1_000
    add_entries(user, 9_000, description="x" * 80)
    large, rows = _peak_bytes(user, fmt)
    assert rows == 10_000
    # Ten times the rows; a buffered export would need about ten times the memory.
    assert large < small * 1.5 + 512 * 1024, (small, large)
