"""The ``supportloop`` command line: the top-level app, its commands by topic, and the error handling.

Every command loads the settings itself (so ``--help`` works even with a bad setting), turns a
``SupportLoopError`` into one line on stderr and a non-zero exit, and logs tracebacks to the log file.
A new command is a module under ``supportloop/commands/`` with its own ``app = typer.Typer()`` plus its
name in ``COMMANDS`` below.
"""

from __future__ import annotations

from supportloop.logs import quiet_environment

quiet_environment()

import importlib  # noqa: E402  (the environment above must be set before any model library loads)
import inspect  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

import typer  # noqa: E402
from rich.markup import escape  # noqa: E402

from core.errors import SupportLoopError  # noqa: E402
from core.masking import mask  # noqa: E402
from core.settings import ENV_PREFIX, load_settings, secret_values  # noqa: E402
from supportloop.commands.common import err  # noqa: E402

log = logging.getLogger("supportloop.cli")

app = typer.Typer(
    name="supportloop",
    help="SupportLoop: a support bot that answers from your help pages and learns from 👍/👎.\n\n"
    f"Settings come from {ENV_PREFIX}* environment variables or a .env file "
    "(see `supportloop settings`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The modules under supportloop/commands, in the order --help lists their commands. Each has an
# ``app = typer.Typer()``; one with a name is a group of subcommands (``votes import``).
COMMANDS = ["indexing", "answering", "serving", "console", "learning", "votes", "harm", "admin"]
for module in COMMANDS:
    app.add_typer(importlib.import_module(f"supportloop.commands.{module}").app)


def _reflow_help(typer_app: typer.Typer) -> None:
    """Join each help paragraph's lines into one, for every command under ``typer_app``.

    Typer's help joins the first paragraph of a docstring but prints the others with the source's line
    breaks. That printed ragged lines cut at the source's width and again at the terminal's. A
    paragraph here is prose, so the terminal can wrap it.
    """
    for info in typer_app.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        info.help = "\n\n".join(" ".join(paragraph.split()) for paragraph in doc.split("\n\n"))
    for group in typer_app.registered_groups:
        _reflow_help(group.typer_instance)


_reflow_help(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process).

    Typer itself reports what it parses: a mistyped command or option, or a stray argument, prints
    the usage and exits 2, as any command line does. Everything else ends here in one line.
    """
    try:
        app(args=argv, prog_name="supportloop", standalone_mode=True)
    except SystemExit as exc:  # typer's own ending: --help, usage errors, typer.Exit
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except SupportLoopError as exc:
        log.info("command failed", exc_info=True)
        err.print(f"[red]Error:[/] {_shown(exc)}")
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("Aborted.")
        return 130
    except Exception as exc:
        log.exception("unexpected error")
        problem = f"{type(exc).__name__}: {_shown(exc)}"
        err.print(f"[red]Unexpected error:[/] {problem}. Details are in the log file.")
        return 1
    return 0


def _shown(exc: Exception) -> str:
    """An error message as it may be printed: credentials in URLs and the secret settings masked."""
    try:
        secrets = secret_values(load_settings())
    except SupportLoopError:  # the settings are what is wrong; their message masks itself
        secrets = []
    return escape(mask(str(exc), secrets))


def entry() -> None:
    sys.exit(main())
