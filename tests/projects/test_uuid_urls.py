"""Project URLs carry UUIDv7s, not counting numbers; a malformed, unknown or another organization's id is a 404."""
from __future__ import annotations

import re

import pytest

from app.platform.models import uuid7
from tests.helpers import UUID_PATTERN

NOT_IDS = ["1", "42", "not-a-uuid", "01a2487c-4257-73cd-85b8-c9ea317affb", "01a2487c-4257-73cd-85b8-c9ea317affbg",
           "%C2%B2"]
URLS = ["/projects/{p}", "/projects/{p}/edit", "/projects/{p}/calendar.ics", "/projects/{p}/generate",
        "/projects/{p}/generations/{g}", "/projects/{p}/generations/{g}/diff",
        "/projects/{p}/generations/{g}/manifest.json", "/jobs/project-generate/{g}/status"]


def test_urls_carry_time_ordered_uuids(student, generated):
    project_id, generation_id = generated
    assert project_id.version == generation_id.version == 7
    second = student.create_school("Compilers")
    assert second > project_id  # made later, sorts later

    page = student.client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert f"/projects/{project_id}/generations/{generation_id}" in page
    listing = student.client.get("/projects/").get_data(as_text=True)
    assert re.search(rf"/projects/{UUID_PATTERN}", listing)
    assert not re.search(r'href="/projects/\d+["/?]', listing + page), "a project link with a counting number"
    for url in URLS:
        response = student.client.get(url.format(p=project_id, g=generation_id))
        assert response.status_code == 200, url
    status = student.client.get(f"/jobs/project-generate/{generation_id}/status").get_data(as_text=True)
    assert f"#{generation_id.hex[-8:]}" in status


@pytest.mark.parametrize("bad", NOT_IDS)
def test_malformed_ids_answer_404(student, generated, bad):
    project_id, generation_id = generated
    for url in URLS:
        if "{p}" in url:
            assert student.client.get(url.format(p=bad, g=generation_id)).status_code == 404, url
        if "{g}" in url:
            assert student.client.get(url.format(p=project_id, g=bad)).status_code == 404, url


def test_unknown_and_foreign_ids_answer_404(student, generated, login, people):
    project_id, generation_id = generated
    for url in URLS:
        if "{p}" in url:
            assert student.client.get(url.format(p=uuid7(), g=generation_id)).status_code == 404, url
        if "{g}" in url:
            assert student.client.get(url.format(p=project_id, g=uuid7())).status_code == 404, url
    outsider = login(people["outsider"])  # another organization's admin
    classmate = login(people["classmate"])  # same organization, not the owner
    for url in URLS:
        assert outsider.client.get(url.format(p=project_id, g=generation_id)).status_code == 404, url
        if not url.startswith("/jobs/"):  # the organization's job list is shared with its members
            assert classmate.client.get(url.format(p=project_id, g=generation_id)).status_code == 404, url
