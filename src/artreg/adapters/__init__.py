"""The edges of artreg to the outside: strict reading and atomic writing of files (`files`),
hashing (`hashing`), DVC (`dvc/`, the only package that imports dvc), the JSON schemas and
their validation (`schemas`), file locks (`locking`), fault injection for tests (`faults`) and
the Ctrl-C marker (`interrupts`), names every platform git runs on can check out (`portable`)
and values handed in from Python made plain, with how a bad one is shown (`values`). An adapter
may import `errors`, `_version` and another adapter; nothing above it. Docstring only: no
re-exports.
"""
