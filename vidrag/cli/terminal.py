"""Text from users, videos and the model, made safe to print on a terminal.

A name uploaded through the browser can hold escape sequences (`\\x1b[31m` recolours the
terminal, `\\x1b]0;...\\x07` retitles it, others have done worse) or a newline that breaks
one-line-per-file output. Every human-readable line the CLIs print goes through `printable`;
JSON output is escaped by the json module already.
"""

from __future__ import annotations

import unicodedata

# Invisible characters that reorder what follows on the line ("Trojan Source"), and line
# breaks other than \n: shown as escapes too.
_BIDI_AND_BREAKS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def printable(text: str, keep_newlines: bool = False) -> str:
    """`text` with control characters written as escapes (`\\x1b`, `\\n`, `\\u202e`), so it
    prints as the characters it holds. `keep_newlines` keeps \\n (and tabs) for running text,
    such as a streamed answer."""
    if text.isprintable() and not _BIDI_AND_BREAKS.intersection(text):
        return text
    return "".join(_escape(c, keep_newlines) for c in text)


def _escape(c: str, keep_newlines: bool) -> str:
    if keep_newlines and c in "\n\t":
        return c
    if c in _BIDI_AND_BREAKS or unicodedata.category(c) == "Cc":
        return c.encode("unicode_escape").decode("ascii")
    return c
