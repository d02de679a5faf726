"""The `mlperfctl` command line: a thin layer over matrix -> render -> build -> run -> submission."""

from __future__ import annotations

import sys

import typer

from ..errors import MatrixError, UserError
from . import build_commands, export_commands, launch_commands, matrix_commands, run_commands, submission_commands

app = typer.Typer(
    help="Build and run MLPerf Inference benchmarks in reproducible containers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
matrix_commands.register(app)
build_commands.register(app)
run_commands.register(app)
submission_commands.register(app)
launch_commands.register(app)
export_commands.register(app)


def main() -> None:
    """Console-script entry: user errors are one line on stderr and exit code 2."""
    try:
        app()
    except UserError as e:
        prefix = "" if isinstance(e, MatrixError) else "error: "
        for line in str(e).splitlines():
            print(f"{prefix}{line}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)

