"""Errors a user can cause and fix: the command line prints them as one line, no traceback."""


class UserError(Exception):
    """Bad input from the user (a path, a file, an option); its message is one line."""


class DataError(UserError, ValueError):
    """A dataset on disk that cannot be read: the message names the file and, where known, the line."""
