"""One module per command family that is not a read of the registry's sources: doctor, history,
housekeeping (tag, deprecate, recover), init, gc (`retention`, with its model of what is still
needed, `reachability`), the static site's collection (`site`), verify and air-gapped bundles (`bundle`). A service may import
`publishing`, `artifacts`, `registry`, `adapters`, `errors` and, until issue 25's S6 gives them a
registry source, the read modules still in `features/`; never `present`, `cli` or another
service (the import-linter contract `features` lists the edges still to cut). Docstring only: no
re-exports.
"""
