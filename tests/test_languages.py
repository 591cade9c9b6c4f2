"""Libraries in any language: BM25 analysed in each video's language (stems, stop words, CJK
character pairs), languages guessed where a file doesn't say, found across languages with a
multilingual text model, and answers asked for in the question's language."""

import pytest

from conftest import make_video, text_schema_of_old, write_srt
from rag.languages import guess_language, index_text, language_name, normalise_code, query_terms, terms

GERMAN = [(0.0, 4.0, "Guten Morgen und willkommen zu unserer Sendung."),
          (5.0, 9.0, "Die Katzen schlafen am liebsten auf dem warmen Dach."),
          (10.0, 14.0, "Danach fahren wir mit dem Zug nach Hamburg."),
          (15.0, 19.0, "Das Wetter wird morgen regnerisch und kalt."),
          (20.0, 24.0, "Zum Schluss kochen wir eine Kartoffelsuppe mit Speck.")]
SPANISH = [(0.0, 4.0, "Hola a todos y bienvenidos al mercado."),
           (5.0, 9.0, "Aquí se vende el mejor café de la ciudad."),
           (10.0, 14.0, "Los pescadores llegan muy temprano por la mañana."),
           (15.0, 19.0, "Las naranjas de Valencia son muy dulces.")]
JAPANESE = [(0.0, 4.0, "皆さん、こんにちは。"),
            (5.0, 9.0, "東京の天気は晴れです。"),
            (10.0, 14.0, "電車で大阪へ行きます。"),
            (15.0, 19.0, "ラーメンはとても美味しいです。")]


def test_terms_stem_drop_stop_words_and_fold_accents():
    assert terms("Die Katzen schlafen auf dem warmen Dach", "de") == ["katz", "schlaf", "warm", "dach"]
    assert terms("Der Hund läuft im Park", "de") == ["hund", "lauft", "park"]
    assert terms("The cats are sleeping on the roof", "en") == ["cat", "sleep", "roof"]
    assert terms("el mejor café", "es") == terms("El mejor cafe", "es") == ["mejor", "caf"]
    # A language without a stemmer, or none at all: the words as they are, lowercased.
    assert terms("Die Katzen", "") == ["die", "katzen"] == terms("Die Katzen", "xx")


def test_cjk_is_cut_into_character_pairs_between_other_words():
    assert terms("東京の天気", "ja") == ["東京", "京の", "の天", "天気"]
    assert terms("雨", "ja") == ["雨"]
    assert terms("iPhoneは高い", "ja") == ["iphone", "は高", "高い"]
    assert "天気" in index_text("東京の天気は晴れです。", "ja").split()


def test_a_question_gets_its_terms_in_every_library_language_without_their_stop_words():
    # "die" is German for "the": dropped though English keeps it; "Katze" stems in German.
    assert query_terms("Where does the cat sleep? Die Katze", ["de", "en"]) == ["cat", "katz", "sleep"]
    assert query_terms("the", ["en"]) == []
    assert query_terms("Katzen", []) == ["katzen"]


@pytest.mark.parametrize("text,expected", [
    ("Die Katzen schlafen auf dem warmen Dach", "de"),
    ("Was hat sie über das Budget gesagt?", "de"),
    ("Los gatos duermen en el tejado del café", "es"),
    ("Le chat dort sur le toit de la maison", "fr"),
    ("What did she say about the budget?", "en"),
    ("東京の天気は晴れです", "ja"),
    ("今天北京的天气很好", "zh"),
    ("서울의 날씨", "ko"),
    ("Hello", ""),  # too little to tell
    ("", ""),
])
def test_guess_language(text, expected):
    assert guess_language(text) == expected


def test_language_codes_and_names():
    assert [normalise_code(c) for c in ("de", "de-AT", "deu", "ger", "German", "pt_BR", "xx")] == \
        ["de", "de", "de", "de", "de", "pt", "xx"]
    assert language_name("de") == "German" and language_name("jpn") == "Japanese" and language_name("xx") == ""


@pytest.mark.parametrize("setting, expected", [("German", "de"), ("de-AT", "de"), ("AUTO", ""), ("", ""),
                                              ("jpn", "ja"), ("haw", "haw")])
def test_the_whisper_language_setting_takes_a_code_or_a_name(monkeypatch, setting, expected):
    from rag.settings import Settings

    monkeypatch.setenv("VIDRAG_WHISPER_LANGUAGE", setting)
    assert Settings().whisper_language == expected


def test_a_language_is_a_code_for_a_multilingual_whisper_or_refused_in_one_line(settings, whisper_checkpoint,
                                                                               espeak, tmp_path):
    """A multilingual Whisper is told "German" as "de". German espeak-ng speech with an
    English-only model set to "de", or with a language Whisper doesn't know, is refused before
    Whisper hears anything, in one line, with nothing left in the library. (Nothing is decoded
    with the random multilingual checkpoint: its noise takes a minute.)"""
    from bench.speech import say, write_media
    from conftest import REAL_WHISPER
    from ingest.pipeline import Ingestor
    from ingest.transcribe import whisper_language
    from rag.errors import IngestError
    from rag.models import load_whisper

    multilingual = load_whisper(str(whisper_checkpoint), "cpu")
    assert [whisper_language(multilingual, code) for code in ("de", "german", "")] == ["de", "de", ""]
    speech = write_media(say("Die Katzen schlafen am liebsten auf dem warmen Dach.", voice="de"),
                         tmp_path / "katzen.mp4", video=True)
    refusals = [({"whisper_language": "klingon"}, "'klingon' is not a language Whisper knows")]
    if REAL_WHISPER.is_file():
        refusals.append(({"whisper_language": "de", "whisper_model": str(REAL_WHISPER)},
                         "=de, but this Whisper model hears English only"))
    for update, message in refusals:
        ingestor = Ingestor(settings.model_copy(update=update))
        try:
            with pytest.raises(IngestError, match=message) as refused:
                ingestor.add(speech)
            assert "\n" not in str(refused.value)
            assert ingestor.store.list_videos() == [] and not any(settings.videos_dir.iterdir())
        finally:
            ingestor.store.close()


def _add(ingestor, folder, name, cues, suffix):
    seconds = 25 + len(list(folder.glob("*.mp4")))  # distinct bytes: a video's id is their hash
    video = make_video(folder / name, seconds, audio=False, size="160x120", rate=5, gop=25)
    write_srt(video.with_name(video.stem + suffix), cues)
    return ingestor.add(video).video


@pytest.fixture
def three_languages(ingestor, tmp_path):
    """A German (talk.de.srt), a Spanish (an untagged .srt) and a Japanese library."""
    from rag import Library

    videos = {"de": _add(ingestor, tmp_path, "katzen.mp4", GERMAN, ".de.srt"),
              "es": _add(ingestor, tmp_path, "mercado.mp4", SPANISH, ".srt"),
              "ja": _add(ingestor, tmp_path, "tokyo.mp4", JAPANESE, ".ja.srt")}
    return Library(ingestor.settings, store=ingestor.store), videos


def test_each_video_is_analysed_in_its_own_language(three_languages):
    library, videos = three_languages
    assert {code: v.language for code, v in videos.items()} == {"de": "de", "es": "es", "ja": "ja"}
    assert library.store.bm25_analysed()
    for question, code, start in [
        ("Katze Dach", "de", 5.0),  # "Katzen" in the cue: the same stem
        ("Kartoffelsuppen", "de", 20.0),
        ("cafe", "es", 5.0),  # typed without its accent
        ("naranja", "es", 15.0),
        ("天気", "ja", 5.0),  # inside 東京の天気は晴れです, with no space around it
        ("大阪", "ja", 10.0),
    ]:
        top = library.searcher.search(question, k=1, signals=("bm25",))
        assert top and (top[0].video_id, top[0].start_s) == (videos[code].id, start), (question, top)


def test_a_library_from_before_language_analysis_keeps_its_bm25(settings, monkeypatch, tmp_path):
    """A text collection whose BM25 reads `text` itself opens with today's code and is searched
    as it was: words as they are (a stem finds nothing until the video is added again)."""
    import rag.store.store
    from ingest.pipeline import Ingestor
    from rag import Library

    monkeypatch.setattr(rag.store.store, "_text_schema", _text_schema_before_languages)
    ingestor = Ingestor(settings)
    video = _add(ingestor, tmp_path, "katzen.mp4", GERMAN, ".de.srt")
    ingestor.store.close()
    monkeypatch.undo()
    library = Library(settings)
    try:
        assert not library.store.bm25_analysed()
        top = library.searcher.search("Dach", k=1, signals=("bm25",))
        assert (top[0].video_id, top[0].start_s) == (video.id, 5.0)
        assert library.searcher.search("Katze", k=1, signals=("bm25",)) == []
    finally:
        library.close()


def _text_schema_before_languages(client, dim, server=False):
    """The text collection as the version before issue 24 made it: BM25 over `text`."""
    return text_schema_of_old(client, dim, with_source=True)


@pytest.mark.slow
def test_a_question_in_english_finds_moments_in_german_spanish_and_japanese(settings, multilingual_dir, tmp_path):
    """With multilingual-e5-small, an English question finds its moment in another language's
    video in the top 3 (BM25 can't: the words differ); an English video competes."""
    from conftest import COOKING_CUES
    from ingest.pipeline import Ingestor
    from rag import Library

    settings = settings.model_copy(update={"text_model": str(multilingual_dir)})
    ingestor = Ingestor(settings)
    videos = {"de": _add(ingestor, tmp_path, "katzen.mp4", GERMAN, ".de.srt"),
              "es": _add(ingestor, tmp_path, "mercado.mp4", SPANISH, ".es.srt"),
              "ja": _add(ingestor, tmp_path, "tokyo.mp4", JAPANESE, ".ja.srt"),
              "en": _add(ingestor, tmp_path, "cooking.mp4", COOKING_CUES[:5], ".en.srt")}
    library = Library(settings, store=ingestor.store)
    try:
        for question, code, start in [
            ("Where do the cats like to sleep?", "de", 5.0),
            ("What soup is cooked at the end?", "de", 20.0),
            ("Where can I buy the best coffee?", "es", 5.0),
            ("What is the weather like in Tokyo?", "ja", 5.0),
        ]:
            moments = library.searcher.search(question, k=3, signals=("dense", "bm25"))  # CLIP is random here
            found = [(m.video_id, m.start_s) for m in moments]
            assert (videos[code].id, start) in found, (question, [(m.video_name, m.start_s, m.text) for m in moments])
    finally:
        library.close()


def test_the_answer_is_asked_for_in_the_questions_language():
    from rag.answering.prompt import render

    german = render("Wo schlafen die Katzen am liebsten?", [], [], 0, 320)[0]["content"]
    assert "Answer in the language of the question (German)" in german
    unknown = render("Katzen?", [], [], 0, 320)[0]["content"]
    assert "Answer in the language of the question," in unknown
