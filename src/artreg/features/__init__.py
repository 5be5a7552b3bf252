"""One module per user-facing command family (register, promote, release, fetch, verify, gc, ...).

A feature module may import the shared modules of `artreg` beside this package, never another
feature module: the import-linter contract `features` in pyproject.toml lists the edges that are
still to be cut, and each cut deletes its line. (Issue 25 moves these into `services/`.)
"""
