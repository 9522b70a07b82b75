"""Errors the CLI turns into one line on stderr and exit code 2 (bad input, nothing lost)."""


class BadInput(Exception):
    """The user asked for something that cannot be done as asked; the message says why."""
