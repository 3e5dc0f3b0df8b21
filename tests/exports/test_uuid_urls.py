"""Export requests, templates and schedules are named by UUIDv7s in their URLs; anything else there is a 404."""
from __future__ import annotations

import pytest

from app.platform.models import uuid7
from tests.exports.test_tenancy import _acme_objects

NOT_IDS = ["1", "not-a-uuid", "01a2487c-4257-73cd-85b8-c9ea317affb", "%C2%B2"]
PAGES = {"request_id": ["/exports/requests/{}"], "template_id": ["/exports/templates/{}/edit"],
         "schedule_id": ["/exports/schedules/{}/edit"]}


@pytest.fixture()
def acme(app, people):
    return _acme_objects(people)


def test_ids_are_uuidv7_and_pages_open(acme, people, login):
    client, _auth = login(people["admin"])
    for name, urls in PAGES.items():
        assert acme[name].version == 7, name
        for url in urls:
            assert client.get(url.format(acme[name])).status_code == 200, url
    listing = client.get("/exports/").get_data(as_text=True)
    assert f"/exports/requests/{acme['request_id']}" in listing


@pytest.mark.parametrize("bad", NOT_IDS + ["unknown"])
def test_malformed_and_unknown_ids_answer_404(acme, people, login, bad):
    client, auth = login(people["admin"])
    for urls in PAGES.values():
        for url in urls:
            assert client.get(url.format(uuid7() if bad == "unknown" else bad)).status_code == 404, url
    target = uuid7() if bad == "unknown" else bad
    for url in (f"/exports/requests/{target}/delete", f"/exports/schedules/{target}/toggle"):
        assert auth.post(url, {}, page="/exports/").status_code == 404, url
