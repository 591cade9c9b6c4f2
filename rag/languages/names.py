"""Language codes (ISO 639-1, as Whisper reports them) and their names. The names are those
of NLTK's Snowball stemmers and stop-word lists, which rag/languages/analysis.py reads."""

from __future__ import annotations

NAMES = {
    "ar": "arabic", "az": "azerbaijani", "be": "belarusian", "bn": "bengali", "ca": "catalan",
    "da": "danish", "de": "german", "el": "greek", "en": "english", "es": "spanish",
    "eu": "basque", "fi": "finnish", "fr": "french", "he": "hebrew", "hu": "hungarian",
    "id": "indonesian", "it": "italian", "ja": "japanese", "kk": "kazakh", "ko": "korean",
    "ne": "nepali", "nl": "dutch", "no": "norwegian", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sl": "slovene", "sq": "albanian", "sv": "swedish", "ta": "tamil",
    "tg": "tajik", "tr": "turkish", "uz": "uzbek", "zh": "chinese",
}
# Three-letter codes (ISO 639-2, as Matroska and MP4 tag subtitle streams) and other spellings.
ALIASES = {
    "ara": "ar", "cat": "ca", "chi": "zh", "zho": "zh", "dan": "da", "deu": "de", "ger": "de",
    "ell": "el", "gre": "el", "eng": "en", "spa": "es", "fin": "fi", "fra": "fr", "fre": "fr",
    "heb": "he", "hun": "hu", "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko", "dut": "nl",
    "nld": "nl", "nor": "no", "nob": "no", "nb": "no", "nn": "no", "por": "pt", "ron": "ro",
    "rum": "ro", "rus": "ru", "swe": "sv", "tur": "tr", "iw": "he",
    **{name: code for code, name in NAMES.items()},  # "german" -> "de"
}


def normalise_code(code: str) -> str:
    """"de", "de-AT", "deu", "ger", "German" -> "de"; anything unknown comes back lowercased
    as it was, minus a region ("xx-YY" -> "xx")."""
    code = (code or "").strip().lower().replace("_", "-").split("-")[0]
    if code in NAMES:
        return code
    return ALIASES.get(code, code)


def language_name(code: str) -> str:
    """"de" -> "German"; "" for a code it doesn't know."""
    return NAMES.get(normalise_code(code), "").capitalize()
