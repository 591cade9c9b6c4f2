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

    from rag.llamaindex import VidragRetriever

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

    from rag.llamaindex import VidragRetriever

    lib, ids = library
    nodes = VidragRetriever(lib, video_ids=[ids["garden.mp4"]], k=2, frames=False).retrieve("snails and lettuce")
    assert 1 <= len(nodes) <= 2 and not any(isinstance(n.node, ImageNode) for n in nodes)
    assert {n.node.metadata["video_name"] for n in nodes} == {"garden.mp4"}
    assert "copper tape" in nodes[0].node.get_content()


def test_query_engine_streams_and_sends_frames_as_image_parts(library):
    """The engine streams the stub's answer; the recorded request carries the frames as image parts."""
    from llama_index.core.base.response.schema import StreamingResponse

    from rag.llamaindex import vidrag_query_engine

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
    from rag.llamaindex import NO_MOMENTS, vidrag_query_engine

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
    from rag.llamaindex import vidrag_tool

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


def test_importing_rag_does_not_import_llama_index():
    """The app and the CLIs import rag; llama-index-core (seconds to import) stays out of them."""
    code = "import sys, rag, rag.cli, rag.search, rag.answer; print('llama_index' in ' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
