"""Errors a person can fix: the CLI prints them as one line and exits non-zero."""


class CliError(Exception):
    """A problem to report as `frontdesk: <message>` with exit status 1."""
