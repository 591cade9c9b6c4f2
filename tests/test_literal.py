"""Untrusted text on the page: escaped once, in vidrag/web/literal.py, for bodies and labels."""

from rag.types import Segment
from rag.videos.captions import to_webvtt
from vidrag.web.literal import WORD_JOINER, as_label, as_text


def _shown(markdown: str) -> str:
    """What a reader sees: backslash escapes resolved, hard breaks as newlines, joiners invisible."""
    out, i = [], 0
    while i < len(markdown):
        if markdown[i] == "\\" and i + 1 < len(markdown):
            out.append(markdown[i + 1])
            i += 2
        else:
            out.append(markdown[i])
            i += 1
    return "".join(out).replace("  \n", "\n").replace(WORD_JOINER, "")


def test_markdown_html_and_links_are_escaped_and_read_back_exactly():
    for text in ["[x](https://example.com)<b>y</b>.mp4", "![px](https:127.0.0.1:9).mp4", "a *b* _c_ `d` # e",
                 "line one\nline two", "AT&T &amp; 5 > 3", "$x^2$ ~~no~~ | table |"]:
        escaped = as_text(text)
        assert _shown(escaped) == text
        for raw in ("](", "<b>", "![", "*b*", "`d`", "~~"):
            assert raw not in escaped


def test_bare_urls_and_addresses_cannot_autolink():
    """GitHub autolinks are found in the text after escapes are resolved; a word joiner breaks them."""
    for text, broken in [("see https://evil.example/x", ":" + WORD_JOINER), ("mail me@evil.example", "@" + WORD_JOINER),
                         ("go to www.evil.example", "www" + WORD_JOINER), ("HTTP://EVIL.EXAMPLE", ":" + WORD_JOINER)]:
        shown = _shown(as_text(text)).replace(WORD_JOINER, "")
        assert shown == text and broken in as_text(text)


def test_labels_are_one_line():
    assert "\n" not in as_label("evil\nname.mp4: ready") and _shown(as_label("a\nb")) == "a b"


def test_subtitle_cues_show_markup_literally():
    vtt = to_webvtt([Segment(0.0, 2.0, "a < b --> c <b>bold</b> & co")])
    assert "a &lt; b --&gt; c &lt;b&gt;bold&lt;/b&gt; &amp; co" in vtt
    assert vtt.count("-->") == 1  # only the timing line's arrow
