"""What a command has changed for good so far, for the line an interrupt (Ctrl-C) prints.

Until a change is final, an interrupted command leaves nothing changed (transactions roll
back). Past that point a core function marks the change as made (`made`), so the CLI says what
was done and how to finish instead of "nothing was changed".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_made: list[tuple[str, str]] = []


@contextmanager
def made(what: str, fix: str) -> Iterator[None]:
    """Inside this block the change `what` is final; an interrupt there names it and `fix`.
    The mark stays when the block is left by an exception, for the handler to read."""
    _made.append((what, fix))
    yield
    _made.pop()


def done() -> tuple[str, str] | None:
    """(what was done, how to finish) of the innermost change an interrupt cut short."""
    return _made[-1] if _made else None


def message() -> str:
    """The line(s) an interrupted command prints: what was done and how to finish, if anything
    was; else that nothing was changed."""
    found = done()
    if found is None:
        return "artreg: interrupted; nothing was changed"
    return f"artreg: interrupted after {found[0]}\n  fix: {found[1]}"
