"""Read the forms off a page (stdlib HTMLParser): where they post and what fields they send."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: dict = field(default_factory=dict)  # name -> default value (first option for selects)
    kinds: dict = field(default_factory=dict)  # name -> input type / "select" / "textarea"

    def key(self) -> tuple:
        """Forms that differ only in the row they act on (one per row of a list) count once."""
        return (self.method, re.sub(r"\d+", "N", self.action.split("?")[0]), tuple(sorted(self.fields)))


class _FormParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = a.get("action") or a.get("hx-post") or self.page_url
            method = "POST" if (a.get("method", "get").lower() == "post" or a.get("hx-post")) else "GET"
            self.current = Form(action=action, method=method)
            return
        if self.current is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and name in self.current.fields:
                return
            self.current.fields[name] = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            self.current.kinds[name] = kind
        elif tag == "select" and name:
            self.select = name
            self.current.fields.setdefault(name, "")
            self.current.kinds[name] = "select"
        elif tag == "option" and self.select and not self.current.fields.get(self.select):
            self.current.fields[self.select] = a.get("value", "")
        elif tag == "textarea" and name:
            self.textarea = name
            self.current.fields[name] = ""
            self.current.kinds[name] = "textarea"

    def handle_endtag(self, tag):
        if tag == "form" and self.current is not None:
            self.forms.append(self.current)
            self.current = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea and self.current is not None:
            self.current.fields[self.textarea] += data


def forms_on(html: str, page_url: str) -> list[Form]:
    parser = _FormParser(page_url)
    parser.feed(html)
    return parser.forms
