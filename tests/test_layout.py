"""The layout holds: the core and the pipeline never reach up into an interface, the declared
stages are what ingest runs, and the installed `vidrag` command works from any folder."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from conftest import ROOT, VIDRAG

INTERFACE_PACKAGES = ("vidrag", "streamlit", "mcp", "llama_index", "starlette", "fastapi", "click")
CORE_PACKAGES = ("rag", "ingest")
SUBCOMMANDS = ("add", "list", "remove", "describe", "read", "search", "ask", "videos", "similar", "summarize", "eval",
               "transcript", "mcp", "serve")
MAX_LINES = 400


def _source_files(*packages: str):
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_importing_the_core_loads_no_interface():
    """`import rag, ingest`, and every module below them, leave the UI, MCP, LlamaIndex, the
    web frameworks and the CLI unloaded."""
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in _source_files(*CORE_PACKAGES)]
    modules = [m.removesuffix(".__init__") for m in modules]
    code = (f"import sys, rag, ingest\nfor m in {modules!r}: __import__(m)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({INTERFACE_PACKAGES!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_no_core_module_imports_an_interface_even_lazily():
    """Imports inside functions count too: the core is read, not only imported."""
    offenders = []
    for path in _source_files(*CORE_PACKAGES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in INTERFACE_PACKAGES]
    assert offenders == []


def test_no_source_file_is_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in _source_files(*CORE_PACKAGES, "vidrag")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert long == []


def test_the_declared_stages_are_modules_with_a_name_and_a_run():
    from ingest.stages import AFTER_COMMIT, PROGRESS_STAGES, STAGES

    assert [s.NAME for s in STAGES] == ["frames", "read", "describe", "transcript", "speakers", "embeddings", "tags"]
    assert all(callable(s.run) for s in STAGES) and all(callable(s.run_after) for s in AFTER_COMMIT)
    assert PROGRESS_STAGES[0] == "probe" and PROGRESS_STAGES[-1] == "index"
    assert len(set(PROGRESS_STAGES)) == len(PROGRESS_STAGES)


def test_vidrag_help_from_the_root_folder_lists_every_subcommand():
    """The installed command, run from `/` with no PYTHONPATH: a line per subcommand, and each
    subcommand's own --help."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([VIDRAG, "--help"], cwd="/", env=env, capture_output=True, text=True, check=True).stdout
    listed = {line.split()[0] for line in out.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert set(SUBCOMMANDS) <= listed
    for command in ("add", "transcript", "search"):
        own = subprocess.run([VIDRAG, command, "--help"], cwd="/", env=env, capture_output=True, text=True,
                             check=True).stdout
        assert own.startswith(f"Usage: vidrag {command}")


@pytest.mark.parametrize("argv, code", [(["no-such-command"], 2), (["search", "--k", "many", "x"], 2)])
def test_a_wrong_command_line_is_one_usage_error(argv, code):
    from vidrag.cli import main

    assert main(argv) == code
