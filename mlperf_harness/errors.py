"""The one error type for bad input: the CLI prints it as a single line and exits 2."""


class UsageError(Exception):
    """Bad input from the caller, with the fix to suggest."""

    def __init__(self, what: str, fix: str):
        super().__init__(f"{what} ({fix})")
        self.what = what
        self.fix = fix
