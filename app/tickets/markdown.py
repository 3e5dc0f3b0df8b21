"""Knowledge base articles are Markdown: rendered by markdown-it-py, then sanitised by nh3.

Raw HTML in the source is not passed through (markdown-it's `html` option off), and nh3
(Ammonia) removes whatever else could run script: links keep http(s)/mailto only and get
rel="noopener noreferrer nofollow".
"""
from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
ALLOWED_TAGS = {"a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
                "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "img"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"},
                      "ol": {"start"}}


def sanitise_html(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow")


def render_markdown(text: str) -> Markup:
    # Bandit B704 reviewed: the HTML is markdown-it's output (raw HTML off) after nh3's allow-list sanitising.
    return Markup(sanitise_html(_md.render(text or "")))  # nosec B704


def plain_excerpt(text: str, length: int = 200) -> str:
    """The article's words without Markdown or tags, for the list."""
    words = " ".join(html.unescape(nh3.clean(_md.render(text or ""), tags=set())).split())
    return words if len(words) <= length else words[:length - 1].rstrip() + "…"
