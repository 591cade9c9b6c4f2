"""Untrusted text (file names, transcripts, answers, error lines naming them) shown exactly as it
is on every Streamlit element: the one place where the app escapes.

Streamlit renders markdown in bodies *and* in labels (st.status, st.button, st.expander,
st.tabs, st.toast, widget labels, page titles): links, images, formatting. Backslash escapes stop
all of that except GitHub's autolinks, which Streamlit's renderer finds afterwards in the plain
text (`https://...`, `www.`, `name@host.tld`); a word joiner (U+2060, invisible, zero width) is
put into each such pattern so that nothing untrusted becomes a link.
"""

from __future__ import annotations

import re

MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>~$:=^&")
WORD_JOINER = "\u2060"
# Where an autolink starts: a scheme's "://", "www.", and the "@" of an address.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def as_text(text: str) -> str:
    """Markdown that shows `text` exactly as it is: no links, no images, no formatting, no HTML;
    line breaks kept."""
    unlinked = _AUTOLINK.sub(WORD_JOINER, str(text))
    escaped = "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in unlinked)
    return escaped.replace("\n", "  \n")


def as_label(text: str) -> str:
    """The same for a label (st.status, st.button, st.expander, st.tabs, st.toast, a page
    title): one line, so a name holding a newline can't break the widget's layout."""
    return as_text(" ".join(str(text).split()))
