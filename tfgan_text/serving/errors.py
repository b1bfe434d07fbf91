"""The error of a REST model server: an HTTP status and the server's one-line message."""


class ServingError(Exception):
    """A request that a model server refused or could not answer.

    Args:
        status_code: int or None. The HTTP status; None when no answer came (connection, timeout).
        message: str. The server's `{"error": ...}` text, or what went wrong on the way.
    """

    def __init__(self, status_code, message):
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message

    def __str__(self):
        if self.status_code is None:
            return self.message
        return f"HTTP {self.status_code}: {self.message}"
