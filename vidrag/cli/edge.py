"""The edge of the `vidrag` command: exit codes, library noise kept quiet, and every error one
line on stderr (a traceback only with --verbose)."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable

from rag.errors import VidragError, first_line
from vidrag.cli.terminal import printable

EXIT_ERROR = 1  # bad input, or something that failed; nothing indexed was changed
EXIT_USAGE = 2  # the command line itself is wrong (click's usage errors)
EXIT_VLM_FAILED = 3  # the VLM failed; what was found still stands
EXIT_INTERRUPTED = 130


def run_command(command: Callable[[], int], verbose: bool, interrupted: str = "") -> int:
    """Run one command body: any error one line on stderr, exit 1; Ctrl-C exits 130 after
    `interrupted`, if given."""
    quiet_libraries(verbose)
    try:
        return command()
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if verbose:
            logging.exception("error")
        message = str(error) if isinstance(error, VidragError) else f"{type(error).__name__}: {first_line(error)}"
        error_line(message)
        return EXIT_ERROR


def error_line(message: str) -> None:
    print(printable(f"error: {message}"), file=sys.stderr)


def quiet_libraries(verbose: bool) -> None:
    """Libraries log and warn freely; a user sees our one-line messages unless --verbose."""
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(name)s: %(message)s")
    if not verbose:
        warnings.filterwarnings("ignore")
        # grpc logs Milvus Lite's "method not implemented" answers (it falls back by itself).
        for name in ("milvus_lite", "pymilvus", "grpc", "sentence_transformers", "transformers", "huggingface_hub",
                     "httpx", "openai"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
