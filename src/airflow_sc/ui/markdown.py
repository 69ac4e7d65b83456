"""`doc_md` as safe HTML: CommonMark (with tables and strikethrough) by markdown-it-py.

Safety: raw HTML in the Markdown is not passed through (`html` off: a `<script>` or an
`<img onerror=...>` in the text comes out escaped, as text); markdown-it's link check
refuses `javascript:`, `vbscript:`, `file:` and non-image `data:` URLs (such a link stays
text); every link gets `rel="nofollow noopener noreferrer"`. The page's
Content-Security-Policy still applies on top (no inline script, images only from this
server or `data:`)."""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["render_markdown"]

_md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_LINK_REL = "nofollow noopener noreferrer"


def _link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", _LINK_REL)
    return str(self.renderToken(tokens, idx, options, env))


_md.add_render_rule("link_open", _link_open)


def render_markdown(text: str) -> Markup:
    """The HTML of `text`, safe to put in a page as it is."""
    return Markup(_md.render(text))
