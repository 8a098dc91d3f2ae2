"""The one error a sweep's bad input raises (before Ray starts)."""


class UsageError(ValueError):
    """Bad input found before any trial starts: the CLI prints it on one line and exits 2."""
