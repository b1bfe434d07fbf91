"""A progress line on stderr for long evaluations: `images 300/1000`, redrawn in place on a
terminal, one line per tenth elsewhere (logs stay short)."""

import sys


class Progress:
    """`update(done)` after each batch, `done()` at the end.

    Args:
        label: str, what is counted.
        total: int or None (unknown).
        enabled: bool, False prints nothing.
    """

    def __init__(self, label, total=None, enabled=True):
        self.label = label
        self.total = total
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.shown = 0

    def update(self, done):
        if not self.enabled:
            return
        text = f"{self.label} {done}" + (f"/{self.total}" if self.total else "")
        if self.tty:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        elif self.total and done * 10 // self.total > self.shown:
            self.shown = done * 10 // self.total
            print(text, file=sys.stderr, flush=True)

    def done(self):
        if self.enabled and self.tty:
            print(file=sys.stderr, flush=True)
