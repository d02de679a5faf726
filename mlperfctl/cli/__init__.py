"""The `mlperfctl` command line: a thin layer over matrix -> render -> build -> run -> submission."""

from __future__ import annotations

import shutil
import sys

import typer

from ..errors import MatrixError, UserError
from . import (
    build_commands,
    export_commands,
    get_commands,
    launch_commands,
    matrix_commands,
    models_commands,
    prepare_commands,
    report_commands,
    run_commands,
    submission_commands,
)

app = typer.Typer(
    help="Build and run MLPerf Inference benchmarks in reproducible containers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
)
RICH_HELP_COLUMNS = 100  # narrower (an 80-column terminal) or piped: plain help, whose option names are never cut
matrix_commands.register(app)
build_commands.register(app)
run_commands.register(app)
submission_commands.register(app)
launch_commands.register(app)
export_commands.register(app)
get_commands.register(app)
prepare_commands.register(app)
report_commands.register(app)
models_commands.register(app)


def main() -> None:
    """Console-script entry: user errors are one line on stderr and exit code 2."""
    if not rich_help_fits(sys.stdout.isatty(), shutil.get_terminal_size().columns):
        app.rich_markup_mode = None  # click's own help: whole option names, wrapped descriptions
    try:
        app()
    except UserError as e:
        for line in error_lines(e):
            print(line, file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def rich_help_fits(tty: bool, columns: int) -> bool:
    """The boxed help tables truncate long option names (`--offline-target-q…`) when they lack room: use them
    only on a terminal at least RICH_HELP_COLUMNS wide, never when the help is piped (grep, less, a file)."""
    return tty and columns >= RICH_HELP_COLUMNS


def error_lines(e: UserError) -> list[str]:
    """What stderr shows for a UserError: its first line after `error: ` (a matrix problem is already
    `file:line: message`), the lines after it as they are: they are quoted output, such as the harness's last
    lines, whose own `error: ` must not get a second one."""
    lines = str(e).splitlines() or [""]
    if isinstance(e, MatrixError):
        return lines
    return [f"error: {lines[0]}", *lines[1:]]
