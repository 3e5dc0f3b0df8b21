"""What a first-time user meets on the rules pages: labels that focus their own input, a tab title without
markup, a settings form that keeps what was typed when refused, messages that read as sentences."""
from __future__ import annotations

import re
from collections import Counter

from tests.helpers import page_text, signed_in


def _duplicate_ids(html: str) -> list[str]:
    counts = Counter(re.findall(r'\sid="([^"]+)"', html))
    return sorted(k for k, n in counts.items() if n > 1 and k != "csrf_token")


def test_rule_and_dimension_pages_have_one_input_per_label(app, naming, admin):
    client, _ = signed_in(app, admin)
    rule_page = page_text(client.get(f"/rules/{naming.rule.id}"))
    dimension_page = page_text(client.get(f"/rules/dimensions/{naming.env.id}"))
    assert _duplicate_ids(rule_page) == []
    assert _duplicate_ids(dimension_page) == []


def test_rule_page_title_is_the_rule_name_only(app, naming, admin):
    client, _ = signed_in(app, admin)
    html = page_text(client.get(f"/rules/{naming.rule.id}"))
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "<script" not in title and "&lt;script" not in title
    assert naming.rule.name in title


def test_refused_rule_settings_keep_what_was_typed(app, naming, admin):
    client, auth = signed_in(app, admin)
    response = auth.post(f"/rules/{naming.rule.id}", {"name": "", "platform_id": str(naming.platform.id),
                                                      "description": "Typed before the mistake"})
    assert response.status_code == 422
    html = page_text(response)
    assert "Typed before the mistake" in html


def test_bad_regex_message_ends_with_one_full_stop(app, org, admin):
    client, auth = signed_in(app, admin)
    html = page_text(auth.post("/rules/platforms", {"name": "Storage", "regex": "(a)\\1"}))
    assert "Not a valid regular expression" in html
    assert ".." not in html.split("Not a valid regular expression", 1)[1].split("<", 1)[0]


def test_rules_empty_state_without_platform_does_not_point_below(app, org, admin):
    client, _ = signed_in(app, admin)
    html = page_text(client.get("/rules/"))
    assert "No rules yet" in html and "Create one below" not in html
    assert "Add a platform first" in html
