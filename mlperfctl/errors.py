"""Errors the CLI reports as one clear line (exit code 2) instead of a traceback."""


class UserError(Exception):
    """Bad input from the user: the message says what is wrong and how to fix it."""

    exit_code = 2


class MatrixError(UserError):
    """matrix.yaml is malformed or invalid; each problem is `file:line: message`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def choices(names) -> str:
    """`(choose: a, b, c)` for an error message."""
    return f"(choose: {', '.join(sorted(names))})"
