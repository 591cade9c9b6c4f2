"""Languages: the names of the languages vidrag analyses, text analysis for BM25 in each of
them, and a guess at the language of a text (a subtitle file without a language in its name,
a question)."""

from rag.languages.analysis import index_text, query_terms, terms
from rag.languages.detect import guess_language
from rag.languages.names import language_name, normalise_code

__all__ = ["guess_language", "index_text", "language_name", "normalise_code", "query_terms", "terms"]
