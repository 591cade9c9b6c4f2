"""The `vidrag` command: one entry point for the library, search, answers, whole videos, the
evaluation, and the servers. Each group of subcommands lives in its own module here; this one
wires them into one click group and turns click's own outcomes into exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import click

from vidrag.cli.edge import EXIT_INTERRUPTED, EXIT_USAGE, run_command

INTERRUPTED = "interrupted; nothing half-written is visible"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--verbose", is_flag=True, help="Show tracebacks and library logs.")
@click.version_option(package_name="vidrag", prog_name="vidrag")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Chat with your videos, on your own hardware.

    Exit codes: 0 done, 1 bad input or a failure (nothing indexed changes), 2 a wrong command
    line, 3 the vision-language model failed (what was found is still shown).
    """
    ctx.obj = {"verbose": verbose}


def edge(body: Callable[..., int]) -> Callable[..., int]:
    """A subcommand's body run at the edge: one-line errors, exit codes as documented."""

    @functools.wraps(body)
    @click.pass_context
    def wrapper(ctx: click.Context, /, **kwargs) -> int:
        verbose = bool((ctx.obj or {}).get("verbose"))
        return run_command(lambda: body(**kwargs), verbose, interrupted=INTERRUPTED)

    return wrapper


def main(argv: list[str] | None = None) -> int:
    """Run `vidrag` with `argv` (default: the process's arguments); returns the exit code."""
    try:
        code = cli.main(args=argv, prog_name="vidrag", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code if e.exit_code else EXIT_USAGE
    except click.exceptions.Abort:
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else 0


def _register() -> None:
    # Imported here, after `edge` exists: each module declares its commands with it.
    from vidrag.cli import eval as eval_cli
    from vidrag.cli import find, library, read, serve, speakers, transcript, videos

    for module in (library, read, find, videos, transcript, speakers, eval_cli, serve):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()
