"""The `polyteam` command line: commands only, no logic (DESIGN §5).

Each command parses its options, calls one library function and renders. Library modules
are imported inside the commands so that `polyteam --help` starts fast. Only `main()` turns
polyteam's errors into exit statuses: 2 configuration/usage, 3 budget, 1 anything else.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion (typer's, for bash, zsh, fish, PowerShell)
    no_args_is_help=True,
    help="A small AI software team where every Role and every Action runs on its own LLM.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: typer.rich_utils costs ~0.07-0.2 s of start-up (issue 7)
)

ConfigDir = Annotated[
    Path | None,
    typer.Option("--config-dir", help="Folder with config.yaml and multi_llm_config.yaml."),
]


Verbose = Annotated[
    bool,
    typer.Option("-v", "--verbose", help="Log every attempt, retry, fallback, repair and re-ask to stderr."),
]


def _log(verbose: bool, level: str = "") -> None:
    """The run log: `-v` before or after the command name, else POLYTEAM_LOG's `level`."""
    if verbose or level:
        from polyteam.runlog import enable

        enable("debug" if verbose else level)


def _print_version(value: bool) -> None:
    if value:
        from polyteam import __version__

        print(f"polyteam {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Options for every command (POLYTEAM_LOG=debug is -v from the environment)."""
    _log(verbose, os.environ.get("POLYTEAM_LOG", ""))


@app.command()
def run(
    requirement: Annotated[str | None, typer.Argument(help="The one-line requirement.")] = None,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where projects are written.")] = Path(
        "workspace"
    ),
    config_dir: ConfigDir = None,
    budget: Annotated[float | None, typer.Option("--budget", help="USD cap for this run.")] = None,
    review_k: Annotated[int | None, typer.Option("--review-k", help="Code review rounds (0: off).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue a stopped run.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier run of the same requirement.")
    ] = False,
    redo: Annotated[
        bool, typer.Option("--redo", help="With --resume of a finished run: write its files again.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Only the final summary.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (no live display).")
    ] = False,
    capture: Annotated[
        bool, typer.Option("--capture", help="Keep each prompt and reply, redacted, in .polyteam/calls/.")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Run the team on REQUIREMENT and write the project."""
    _log(verbose)
    from polyteam.commands import run as cmd

    cmd.run(
        requirement=requirement,
        workdir=workdir,
        config_dir=config_dir,
        budget=budget,
        review_k=review_k,
        resume=resume,
        overwrite=overwrite,
        redo=redo,
        quiet=quiet,
        as_json=as_json,
        capture=capture,
    )


@app.command()
def routes(
    config_dir: ConfigDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the routes as JSON.")] = False,
) -> None:
    """Show which LLM serves every Role/Action, and why."""
    from polyteam.commands import routes as cmd

    cmd.run(config_dir=config_dir, as_json=as_json)


@app.command()
def check(
    config_dir: ConfigDir = None,
    ping: Annotated[
        bool, typer.Option("--ping", help="Send a tiny request to each routed endpoint.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    verbose: Verbose = False,
) -> None:
    """Validate the configuration; --ping reaches each endpoint."""
    _log(verbose)
    from polyteam.commands import check as cmd

    cmd.run(config_dir=config_dir, ping=ping, as_json=as_json)


@app.command()
def ask(
    prompt: Annotated[str, typer.Argument(help="The prompt to send.")],
    role: Annotated[str, typer.Option("--role", help="Role whose route to use.")] = "ProductManager",
    action: Annotated[str, typer.Option("--action", help="Action whose route to use.")] = "WritePRD",
    config_dir: ConfigDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the reply and its metadata as JSON.")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Send one prompt routed exactly as ROLE/ACTION would be."""
    _log(verbose)
    from polyteam.commands import ask as cmd

    cmd.run(prompt=prompt, role=role, action=action, config_dir=config_dir, as_json=as_json)


@app.command()
def report(
    project: Annotated[Path, typer.Argument(help="A project folder written by `polyteam run`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML page.")] = None,
) -> None:
    """Cost, tokens and calls by Role, Action and model."""
    from polyteam.commands import report as cmd

    cmd.run(project=project, as_json=as_json, html=html)


@app.command()
def emulate(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Delay before each reply.")] = 0,
    faults: Annotated[str | None, typer.Option("--faults", help="Fault spec, see docs.")] = None,
    log: Annotated[Path | None, typer.Option("--log", help="Append one JSON line per request.")] = None,
    responder: Annotated[str, typer.Option("--responder", help="echo | team")] = "echo",
    lenient: Annotated[
        bool, typer.Option("--lenient", help="Accept what the real services reject (retired models, …).")
    ] = False,
) -> None:
    """Serve the four providers' wire protocols locally."""
    from polyteam.commands import emulate as cmd

    cmd.run(
        port=port,
        host=host,
        latency_ms=latency_ms,
        faults=faults,
        log=log,
        responder=responder,
        strict=not lenient,
    )


def _exit_without_finalization_cost() -> None:
    """At exit, move every object into the collector's permanent generation (issue 15).

    Interpreter finalization otherwise walks every imported object in a last collection: 0.15-0.45 s
    after the run's last answer. Registered first, this runs after every later `atexit` hook (they run
    last-in first-out), so the cleanup of local llama servers still happens; nothing is skipped but
    that collection of cyclic garbage the process is about to drop anyway.
    """
    import atexit
    import gc

    atexit.register(gc.freeze)


config_app = typer.Typer(help="Configuration helpers.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("import")
def config_import(
    path: Annotated[Path, typer.Argument(help="A MetaGPT config2.yaml, or the folder holding it.")],
    to: Annotated[
        Path, typer.Option("--to", help="Folder to write config.yaml + multi_llm_config.yaml.")
    ] = Path("config"),
) -> None:
    """Write polyteam's files for a MetaGPT config2.yaml (routes the same)."""
    from polyteam.commands import config_import as cmd

    cmd.run(path, to)


def main() -> None:
    """Entry point: run the app and map polyteam's errors onto exit statuses."""
    _exit_without_finalization_cost()
    from polyteam.errors import BudgetExceededError, ConfigError, PolyteamError, UsageError

    try:
        # with standalone_mode=False click *returns* the code of a `typer.Exit(n)` (and 130 after
        # Ctrl-C) instead of raising it: pass it on, or every command would exit 0
        code = app(standalone_mode=False, prog_name="polyteam")
    except ConfigError as exc:
        from polyteam.redact import redact

        for issue in exc.issues:
            print(redact(str(issue)), file=sys.stderr)
        sys.exit(2)
    except UsageError as exc:
        from polyteam.redact import redact

        print(redact(str(exc)), file=sys.stderr)
        sys.exit(2)
    except BudgetExceededError as exc:
        from polyteam.redact import redact

        print(f"polyteam: {redact(str(exc))}", file=sys.stderr)
        sys.exit(3)
    except PolyteamError as exc:
        from polyteam.redact import redact

        print(f"polyteam: {redact(str(exc))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("polyteam: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (bad option, missing argument)
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"polyteam: {exc}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
