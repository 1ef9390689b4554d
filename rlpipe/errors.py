"""The one error type the CLI turns into a clean message."""


class RlpipeError(Exception):
    """A problem the user can fix: the message says what is wrong, where, and what to do."""
