"""Human-readable CLI output shows control characters as escapes; JSON stays as it is."""

import json

from conftest import make_video
from rag.types import Frame, Moment
from vidrag.cli.terminal import printable

EVIL = "evil\x1b[31mred\x1b]0;pwned\x07\nsecond line\u202ereversed.mp4"


def test_printable_escapes_controls_and_keeps_text():
    assert printable(EVIL) == "evil\\x1b[31mred\\x1b]0;pwned\\x07\\nsecond line\\u202ereversed.mp4"
    assert printable("ünïcødé 動画 [00:05] a < b") == "ünïcødé 動画 [00:05] a < b"
    assert printable("line one\n\tline two\x1b[2J", keep_newlines=True) == "line one\n\tline two\\x1b[2J"


def test_ingest_add_and_list_print_a_hostile_name_on_one_line(settings, tmp_path, capsys):
    """A name uploaded through the browser, printed by `ingest list`: no escape reaches the
    terminal and the entry stays one line; `--json` keeps the name exactly."""
    from ingest.pipeline import Ingestor
    from vidrag.cli import main
    from vidrag.cli.library import _summary

    ingestor = Ingestor(settings)
    result = ingestor.add(make_video(tmp_path / "clip.mp4", 2, audio=False), name=EVIL)
    ingestor.store.close()
    assert "\x1b" not in printable(_summary(result))

    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "\x1b" not in listed and "\x07" not in listed and "\u202e" not in listed
    assert listed.count("\n") == 1 and listed.rstrip().endswith(printable(EVIL))
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == EVIL

    assert main(["remove", result.video.id]) == 0
    removed = capsys.readouterr().out
    assert "\x1b" not in removed and removed.count("\n") == 1


def test_rag_moments_and_errors_are_escaped(capsys):
    from vidrag.cli.edge import run_command
    from vidrag.cli.find import print_moments

    moment = Moment("abc", EVIL, 5.0, 10.0, "said \x1b[2J loudly", Frame(5.0, "/f.jpg"), 0.5, ("dense",))
    print_moments([moment])

    def fails():
        from rag.errors import VidragError

        raise VidragError(f"{EVIL}: broken")

    assert run_command(fails, verbose=False) == 1
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\u202e" not in stream
    assert captured.err.count("\n") == 1
