"""The README's screenshots, regenerated from the demo data: `CAIRN_README_SCREENSHOTS=1` writes docs/screenshots/.

Without the variable the test still signs in as each demo role and opens each page (so the pages the README
shows keep working), but writes nothing. The PNGs are one 1280x800 screen each, reduced to a 256-colour
palette so the repository stays small.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP

pytestmark = pytest.mark.browser

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WRITE = os.environ.get("CAIRN_README_SCREENSHOTS", "") not in ("", "0")
DEMO_PASSWORD = "cairn-demo-password"
SHOTS = [  # file, who, page
    ("dashboard", "admin@demo.example.com", "/dashboard"),
    ("tickets", "agent@demo.example.com", "/tickets/"),
    ("timesheet", "manager@demo.example.com", "/exports/time"),
    ("rules", "agent@demo.example.com", "/rules/"),
    ("exports", "manager@demo.example.com", "/exports/"),
    ("customer", "customer@demo.example.com", "/tickets/"),
]


def _save(png: bytes, name: str) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
    OUT.mkdir(parents=True, exist_ok=True)
    image.save(OUT / f"{name}.png", optimize=True)


@pytest.mark.slow
def test_readme_screenshots(app, browser_context, console):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    for name, email, path in SHOTS:
        page = browser_context(viewport=DESKTOP, color_scheme="light").new_page()
        console.watch(page)
        page.goto("/signin")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.locator("form button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        response = page.goto(path)
        assert response.status == 200, (name, path)
        if WRITE:
            _save(page.screenshot(type="png"), name)
        page.close()
    assert not console.problems, "\n".join(console.problems)
