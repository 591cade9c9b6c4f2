"""A guess at the language of a text, for text that doesn't say: a subtitle file without a
language in its name, the words on a slide, a question. The script decides where it can (kana
is Japanese, Hangul Korean, other Han Chinese); otherwise each language scores its stop words
in the text, a word shared by several languages counting for each a share. Enough for the
sentences vidrag indexes and is asked; not a general language identifier."""

from __future__ import annotations

import functools
import re

from rag.languages.analysis import stop_words
from rag.languages.names import NAMES

_WORD = re.compile(r"\w+")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile("[\u1100-\u11ff\uac00-\ud7af]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MIN_EVIDENCE = 1.0  # stop words (shares of them) the winner must hold; less is no guess
MIN_LEAD = 1.25  # and by how much it must lead the runner-up


def guess_language(text: str, default: str = "") -> str:
    """The language code `text` is most likely in, or `default` when it can't tell."""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if len(_HAN.findall(text)) * 2 > len(text.strip()):
        return "zh"
    scores: dict[str, float] = {}
    owners = _owners()
    for word in _WORD.findall(text.lower()):
        languages = owners.get(word, ())
        for code in languages:
            scores[code] = scores.get(code, 0.0) + 1.0 / len(languages)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] < MIN_EVIDENCE:
        return default
    if len(ranked) > 1 and ranked[0][1] < MIN_LEAD * ranked[1][1]:
        return default
    return ranked[0][0]


@functools.cache
def _owners() -> dict[str, tuple[str, ...]]:
    """{stop word: the languages whose lists hold it}."""
    found: dict[str, list[str]] = {}
    for code, name in NAMES.items():
        if code in ("zh", "ja", "ko"):  # told by their script
            continue
        for word in stop_words(name):
            found.setdefault(word, []).append(code)
    return {word: tuple(codes) for word, codes in found.items()}
