"""doc_md rendered as Markdown: what it formats, and that HTML and unsafe links stay text."""

from __future__ import annotations

from airflow_sc.ui.markdown import render_markdown


def test_markdown_is_formatted() -> None:
    html = render_markdown("# Title\n\n*em* **strong** ~~gone~~ `code`\n\n|a|b|\n|-|-|\n|1|2|")
    assert "<h1>Title</h1>" in html
    assert "<em>em</em> <strong>strong</strong> <s>gone</s> <code>code</code>" in html
    assert "<th>a</th>" in html
    assert "<td>2</td>" in html


def test_html_in_markdown_is_escaped() -> None:
    html = render_markdown(
        '<img src=x onerror="window.__xss=1">\n\n<script>alert(1)</script>\n\n'
        "text <b onmouseover=alert(1)>b</b>"
    )
    for tag in ("<img", "<script", "<b "):
        assert tag not in html
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_only_safe_links_become_links() -> None:
    html = render_markdown(
        "[a](javascript:alert(1)) [b](JAVASCRIPT:alert(1)) [c](vbscript:x) "
        '[d](data:text/html;base64,PHNjcmlwdD4=) [e](https://example.org/?q="x")'
    )
    assert html.count("<a ") == 1
    assert (
        '<a href="https://example.org/?q=%22x%22" rel="nofollow noopener noreferrer">e</a>' in html
    )
    assert "[a](javascript:alert(1))" in html
