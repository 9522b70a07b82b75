"""Errors every layer may raise and the CLI turns into one line on stderr and exit code 2.

Imports nothing from the harness: it sits below every package.
"""


class BadInput(Exception):
    """The user asked for something that cannot be done as asked; the message says why."""
