"""A student's path in a real browser: create a school project, generate it, explore a file, download its zip."""
from __future__ import annotations

import io
import zipfile

import pytest

from tests.browser.conftest import PHONE
from tests.browser.flows import mark_page, page_was_not_reloaded, sign_up

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 45_000


def test_create_generate_explore_and_download_a_zip(page, jobs):
    jobs.start()
    sign_up(page, organization="Hogwarts", name="Hermione Granger")
    page.get_by_role("link", name="Projects").first.click()
    page.wait_for_url("**/projects/")
    assert page.get_by_text("No projects here yet").is_visible()

    page.get_by_role("link", name="New project").first.click()
    page.wait_for_url("**/projects/new")
    page.wait_for_load_state("load")  # htmx has wired the select: a change before that fetches nothing
    # The chosen type's fields come in through htmx.
    page.select_option("select[name=project_type]", "self_study")
    page.locator("textarea[name=goal_description]").wait_for()
    assert page.locator("input[name=course_code]").count() == 0
    page.select_option("select[name=project_type]", "school")
    page.locator("input[name=course_code]").wait_for()
    page.fill("input[name=name]", "Potions essay")
    page.fill("input[name=course_name]", "Potions")
    page.fill("input[name=course_code]", "POT-5")
    page.fill("input[name=teacher_name]", "Severus Snape")
    page.get_by_role("button", name="Create and publish").click()
    page.wait_for_url("**/projects/*")
    assert page.get_by_role("heading", name="Potions essay").is_visible()

    # A deadline added in place (htmx), then generation with the course template.
    page.select_option("select[name=kind]", "deadline")
    page.fill("input[name=title]", "Essay due")
    page.fill("input[name=date]", "2027-03-01")
    page.get_by_role("button", name="Add date").click()
    page.locator("#dates").get_by_text("Essay due").wait_for()

    page.get_by_role("link", name="Generate files").click()
    page.locator("input[name=ans_author]").wait_for()
    assert page.locator("input[name=ans_author]").input_value() == "Hermione Granger"
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/generations/*")
    mark_page(page)
    page.locator(".job-panel[data-status=succeeded]").first.wait_for(timeout=JOB_TIMEOUT_MS)
    # The files fill in below the panel when it turns succeeded, without a reload.
    page.locator(".file-tree").get_by_role("link", name="README.md").wait_for(timeout=JOB_TIMEOUT_MS)
    assert page_was_not_reloaded(page)

    # Explore: the file's content shows before any download.
    page.locator(".file-tree").get_by_role("link", name="README.md").click()
    view = page.locator("#file-view")
    view.get_by_text("Course: **Potions** (POT-5), taught by Severus Snape.").wait_for()
    assert "Essay due" in view.inner_text()

    page.select_option("select[name=export_type]", "zip")
    with page.expect_navigation():  # the form posts and comes back to this page
        page.get_by_role("button", name="Export").click()
    page.wait_for_load_state()
    mark_page(page)
    page.locator("#exports .job-panel[data-status=succeeded]").wait_for(timeout=JOB_TIMEOUT_MS)
    assert page_was_not_reloaded(page)  # the panel itself carries the download link
    with page.expect_download() as info:
        page.locator("#exports").get_by_role("link", name="Download").first.click()
    data = open(info.value.path(), "rb").read()
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert "potions-essay/README.md" in archive.namelist()
    assert (archive.getinfo("potions-essay/submit.sh").external_attr >> 16) & 0o777 == 0o755

    # Regenerate with another author, then read the changes line by line (side by side at 1280 px).
    page.get_by_role("link", name="Regenerate").first.click()
    page.locator("input[name=ans_author]").fill("H. J. Granger")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/generations/*")
    page.locator(".job-panel[data-status=succeeded]").first.wait_for(timeout=JOB_TIMEOUT_MS)
    page.reload()
    page.get_by_role("link", name="See the changes line by line").click()
    page.wait_for_url("**/diff")
    split = page.locator(".diff-split").first
    assert split.is_visible() and not page.locator(".diff-unified").first.is_visible()
    assert "Hermione Granger" in " ".join(split.locator(".diff-old").all_inner_texts())
    assert "H. J. Granger" in " ".join(split.locator(".diff-new").all_inner_texts())
    page.set_viewport_size(PHONE)
    assert page.locator(".diff-unified").first.is_visible() and not split.is_visible()


def test_projects_pages_fit_a_phone_in_dark_mode(browser_context, console, jobs):
    context = browser_context(viewport=PHONE, color_scheme="dark")
    page = context.new_page()
    console.watch(page)
    sign_up(page, organization="Phone school")
    page.goto("/projects/new")
    page.fill("input[name=name]", "Phone project")
    page.fill("input[name=course_name]", "Mobile")
    page.fill("input[name=course_code]", "M-1")
    page.fill("input[name=teacher_name]", "T")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/projects/*")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"page is {width}px wide on a {PHONE['width']}px phone"
    page.goto("/projects/?tab=drafts")
    assert page.get_by_role("link", name="Phone project").is_visible()
    assert not console.problems, console.problems
