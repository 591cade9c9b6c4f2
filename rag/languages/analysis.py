"""Text analysis for BM25, per language: words lowercased, the language's stop words dropped,
Snowball stems, accents folded; Chinese, Japanese and Korean cut into overlapping character
pairs. Milvus Lite's own analyzer only splits on word characters and lowercases (no language
analyzers, no stemming; its stemmer and `_german_`-style filters are accepted and silently
ignored: BENCHMARKS.md, "Languages"), so vidrag analyses text itself, the same way for Lite and a
Milvus server, into the field Milvus's BM25 function reads.

The stemmers are NLTK's Snowball stemmers and the stop words NLTK's Snowball-derived lists,
both already installed with llama-index-core (which ships the stop-word corpus), so nothing
downloads. Pure functions; the stemmers load once per process."""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from rag.languages.names import NAMES, normalise_code

_WORD = re.compile(r"\w+")
# Scripts written without spaces between words (Han, kana, Hangul): no stemmer or stop list
# applies, so they are indexed as overlapping pairs of characters, which finds a word of two or
# more characters wherever it stands (CJK bigrams, as Lucene's CJK analyzer does).
_CJK = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
                  "\u1100-\u11ff\uac00-\ud7af]+")
# NLTK's Snowball stemmers, by language name.
_STEMMED = {"arabic", "danish", "dutch", "english", "finnish", "french", "german", "hungarian", "italian",
            "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish"}


def terms(text: str, language: str, also_stop: frozenset[str] = frozenset()) -> list[str]:
    """`text` as the terms BM25 indexes for `language` (a code such as "de"; "" or an unknown
    code: words as they are, without stop words or stems), in order; words in `also_stop` are
    dropped too."""
    name = NAMES.get(normalise_code(language), "")
    stops, stem = (stop_words(name) | also_stop) if also_stop else stop_words(name), _stemmer(name)
    found = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        at = 0
        for run in _CJK.finditer(word):
            found.extend(_word_terms(word[at : run.start()], stops, stem))
            chars = run.group()
            found.extend([chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)])
            at = run.end()
        found.extend(_word_terms(word[at:], stops, stem))
    return found


def index_text(text: str, language: str) -> str:
    """What the BM25 field holds for `text`: its terms, separated by spaces."""
    return " ".join(terms(text, language))


def query_terms(question: str, languages: Iterable[str]) -> list[str]:
    """The question's terms under each language of the library, together and sorted: a question
    doesn't say its language, and a term that belongs to none of them matches nothing. A word
    that is a stop word in any of them is dropped: "the" is noise in a German and English
    library, though German keeps it."""
    languages = set(languages) or {""}
    stops = frozenset().union(*(stop_words(NAMES.get(normalise_code(code), "")) for code in languages))
    found: set[str] = set()
    for language in languages:
        found.update(terms(question, language, stops))
    return sorted(found)


def _word_terms(word: str, stops: frozenset[str], stem) -> list[str]:
    if not word or word in stops:
        return []
    return [_fold(stem(word) if stem else word)]


def _fold(word: str) -> str:
    """Accents off ("café" -> "cafe"), so a question typed without them still matches."""
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@functools.cache
def _stemmer(name: str):
    if name not in _STEMMED:
        return None
    from nltk.stem.snowball import SnowballStemmer

    return functools.lru_cache(maxsize=65536)(SnowballStemmer(name).stem)


@functools.cache
def stop_words(name: str) -> frozenset[str]:
    """The stop words of a language by its NLTK name ("german"); none for "" or an unknown one."""
    path = stop_words_dir() / name if name else None
    if path is None or not path.is_file():
        return frozenset()
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


@functools.cache
def stop_words_dir() -> Path:
    """NLTK's stop-word corpus as llama-index-core ships it (found without importing llama-index)."""
    spec = importlib.util.find_spec("llama_index.core")
    roots = list(spec.submodule_search_locations or []) if spec else []
    return Path(roots[0] if roots else ".") / "_static" / "nltk_cache" / "corpora" / "stopwords"
