"""The LlamaIndex retriever, query engine and agent tool, on indexed clips, against a loopback VLM."""

import re
import subprocess
import sys

import pytest

from conftest import ROOT
from openai_stub import StubVLM, refused_url
from rag import Library

KNEAD = "how long should the dough be kneaded"


def _with_vlm(library, url: str) -> Library:
    lib, _ = library
    return Library(lib.settings.model_copy(update={"vlm_base_url": url, "vlm_timeout_s": 2.0}), store=lib.store)


def test_retriever_returns_moment_and_frame_nodes_with_metadata(library):
    """A TextNode per moment with its times, signals and a URL at that time; an ImageNode per frame."""
    from llama_index.core.schema import ImageNode, NodeRelationship, TextNode

    from vidrag.llamaindex import VidragRetriever

    lib, ids = library
    nodes = VidragRetriever(lib, video_ids=[ids["cooking.mp4"]], k=3).retrieve(KNEAD)
    texts = [n for n in nodes if not isinstance(n.node, ImageNode)]
    images = [n for n in nodes if isinstance(n.node, ImageNode)]
    assert 1 <= len(texts) <= 3 and all(isinstance(n.node, TextNode) for n in texts)
    knead = [n for n in texts if n.node.metadata["start_s"] == 10.0]
    assert knead and "knead the dough" in knead[0].node.get_content(), [n.node.metadata for n in texts]
    meta = knead[0].node.metadata
    assert meta["video_id"] == ids["cooking.mp4"] and meta["video_name"] == "cooking.mp4"
    assert meta["end_s"] == pytest.approx(14.8) and set(meta["signals"]) <= {"dense", "bm25", "clip"}
    assert re.fullmatch(r"file:///.*/videos/[0-9a-f]+\.mp4#t=10,14\.8", meta["url"]), meta["url"]
    assert knead[0].score == max(n.score for n in texts)
    assert images, "every moment of this clip has a frame"
    for image in images:
        node = image.node
        assert node.image_path and node.metadata["video_id"] == ids["cooking.mp4"]
        with open(node.image_path, "rb") as f:
            assert f.read(2) == b"\xff\xd8"  # a JPEG
        parent = node.relationships[NodeRelationship.PARENT].node_id
        owner = next(n for n in texts if n.node.node_id == parent).node.metadata
        assert owner["start_s"] - 2.5 <= node.metadata["timestamp_s"] <= owner["end_s"] + 2.5
        assert node.metadata["url"].endswith(f"#t={node.metadata['timestamp_s']:g}")
    assert {n.node.metadata["video_id"] for n in nodes} == {ids["cooking.mp4"]}


def test_retriever_filter_k_and_text_only(library):
    """Another video's filter finds only that video; k bounds the moments; frames=False drops images."""
    from llama_index.core.schema import ImageNode

    from vidrag.llamaindex import VidragRetriever

    lib, ids = library
    nodes = VidragRetriever(lib, video_ids=[ids["garden.mp4"]], k=2, frames=False).retrieve("snails and lettuce")
    assert 1 <= len(nodes) <= 2 and not any(isinstance(n.node, ImageNode) for n in nodes)
    assert {n.node.metadata["video_name"] for n in nodes} == {"garden.mp4"}
    assert "copper tape" in nodes[0].node.get_content()


def test_query_engine_streams_and_sends_frames_as_image_parts(library):
    """The engine streams the stub's answer; the recorded request carries the frames as image parts."""
    from llama_index.core.base.response.schema import StreamingResponse

    from vidrag.llamaindex import vidrag_query_engine

    lib, ids = library
    with StubVLM(reply="Knead it for about ten minutes [00:10].") as stub:
        response = vidrag_query_engine(_with_vlm(library, stub.base_url), video_ids=[ids["cooking.mp4"]]).query(
            "How long do I knead the dough?")
        assert isinstance(response, StreamingResponse)
        pieces = list(response.response_gen)
    assert len(pieces) > 3 and "".join(pieces) == stub.reply
    (request,) = stub.requests
    assert request["stream"] is True
    parts = request["messages"][-1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert images and all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in images)
    assert "How long do I knead the dough?" in parts[0]["text"]
    assert response.metadata["citations"] == [
        {"video_id": ids["cooking.mp4"], "start_s": 10.0, "supported": True, "label": "[00:10]"}]
    assert any(n.node.metadata["start_s"] == 10.0 for n in response.source_nodes)


def test_query_engine_without_streaming_and_with_nothing_found(library):
    from vidrag.llamaindex import NO_MOMENTS, vidrag_query_engine

    with StubVLM() as stub:
        engine = vidrag_query_engine(_with_vlm(library, stub.base_url), streaming=False)
        response = engine.query("what are we baking?")
        assert response.response == stub.reply and response.source_nodes
        unknown = vidrag_query_engine(_with_vlm(library, stub.base_url), video_ids=["0000dead0000beef"])
        nothing = unknown.query("anything")
    assert str(nothing) == NO_MOMENTS and not nothing.source_nodes and len(stub.requests) == 1


def test_agent_tool_is_callable_and_describes_the_library(library):
    """The tool's description names the videos; a call returns the answer and its sources, and a
    VLM that is down gives the moments with a one-line reason instead of an exception."""
    from vidrag.llamaindex import vidrag_tool

    lib, ids = library
    with StubVLM(reply="Knead it for ten minutes [00:10].") as stub:
        tool = vidrag_tool(_with_vlm(library, stub.base_url))
        assert "3 videos" in tool.metadata.description and "cooking.mp4" in tool.metadata.description
        assert tool.metadata.get_parameters_dict()["required"] == ["question"]
        output = tool.call(question="How long do I knead?", video_ids=[ids["cooking.mp4"]])
    assert output.content.startswith(stub.reply) and "Sources:" in output.content
    assert "cooking.mp4 [00:10]-[00:14]" in output.content
    down = vidrag_tool(_with_vlm(library, refused_url())).call(question="How long do I knead?")
    assert down.content.startswith("(no answer: cannot reach the VLM at") and "knead the dough" in down.content


def test_importing_rag_does_not_import_llama_index_or_mcp():
    """The app and the CLIs import rag; llama-index-core (seconds to import) and the MCP SDK stay out."""
    code = ("import sys, rag, vidrag.cli, rag.retrieval.search, rag.answering.answer, rag.links; "
            "print(any(m.split('.')[0] in ('llama_index', 'mcp') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def readme_example() -> str:
    """The code of README.md's "Use from LlamaIndex" section, exactly as a reader copies it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use from LlamaIndex", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_readme_example_runs_on_big_buck_bunny(ingestor, shared_media, tmp_path, monkeypatch, capsys):
    """README's example, unchanged, on the indexed Big Buck Bunny clip and a loopback VLM."""
    from conftest import BUNNY_CUES, write_srt

    clip = tmp_path / "big_buck_bunny_0_30.webm"
    clip.symlink_to(shared_media / "big_buck_bunny_0_30.webm")
    write_srt(tmp_path / "big_buck_bunny_0_30.srt", BUNNY_CUES)
    video_id = ingestor.add(clip).video.id
    with StubVLM(reply="The bird wakes up and stretches its wings [00:05].") as stub:
        monkeypatch.setenv("VIDRAG_VLM_BASE_URL", stub.base_url)
        exec(compile(readme_example(), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    lines = out.splitlines()
    hits = [line for line in lines[:6] if "big_buck_bunny_0_30.webm" in line]
    assert any("TextNode" in h and "[00:05]-[00:09]" in h and f"{video_id}.webm#t=5,9.8" in h for h in hits), out
    assert any("ImageNode" in h for h in hits), out
    assert stub.reply in out and "'start_s': 5.0, 'supported': True" in out
    assert "1 video, 00:30 in all: big_buck_bunny_0_30.webm (00:30, id " + video_id in out
    sources = out.split("Sources:\n", 1)[1].splitlines()
    assert any("[00:20]-[00:24]" in line and "rabbit crawls out" in line for line in sources), sources
    assert len(stub.requests) == 2  # the query engine's and the tool's
    for request in stub.requests:
        assert any(part["type"] == "image_url" for part in request["messages"][-1]["content"])


def test_described_frames_put_what_was_seen_in_the_moment_text(settings, monkeypatch, tmp_path):
    """Where the describe stage ran, a moment's TextNode holds what was said and what was seen."""
    from conftest import COOKING_CUES, make_video, write_srt
    from ingest.pipeline import Ingestor
    from openai_stub import frame_word
    from rag.settings import Settings
    from vidrag.llamaindex import VidragRetriever

    video = make_video(tmp_path / "cooking.mp4", 20, audio=False, size="160x120", rate=5, gop=25)
    write_srt(tmp_path / "cooking.srt", COOKING_CUES[:4])
    with StubVLM() as stub:
        monkeypatch.setenv("VIDRAG_VLM_BASE_URL", stub.base_url)
        monkeypatch.setenv("VIDRAG_SUMMARIZE", "off")
        ingestor = Ingestor(Settings())
        result = ingestor.add(video)
    assert result.described == result.video.frames
    at = ingestor.store.frames(result.video.id)[2].timestamp_s  # about 10 s
    nodes = VidragRetriever(Library(ingestor.settings, store=ingestor.store), k=2, frames=False).retrieve(
        f"{frame_word(at)} knead")
    text = nodes[0].node.get_content()
    assert text.startswith("Said: ") and "knead the dough" in text, text
    assert "\nSeen: " in text and frame_word(at) in text.split("\nSeen: ", 1)[1], text
    ingestor.store.close()
