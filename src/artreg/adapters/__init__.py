"""The edges of artreg to the outside: strict reading and atomic writing of files (`files`),
hashing (`hashing`), DVC (`dvc/`, the only package that imports dvc), the JSON schemas and
their validation (`schemas`), file locks (`locking`), fault injection for tests (`faults`) and
the Ctrl-C marker (`interrupts`). An adapter may import `errors`, `_version`, another adapter and the pure helpers
of `registry` it needs today (tags, values); nothing above it. Docstring only: no re-exports.
"""
