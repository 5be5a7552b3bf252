"""One module per command family that is not a read of the registry's sources: doctor, history,
housekeeping (tag, deprecate, recover), init, gc (`retention`; its model of what is still
needed is `artifacts.reachability`), the static site's collection (`site`), verify and
air-gapped bundles (`bundle`; the checks of verify that bundle import runs on a bundle's tip are
`publishing.release_verify`). `queries` answers `log`, `lineage` and `diff` over the git
directory a source hands it. A service may import `sources` (a clone's own reads:
`sources.clone_fetch`), `publishing`, `reading`, `artifacts`, `registry`, `adapters` and
`errors`; never `present`, `cli` or another service (the import-linter contract `services`:
what two services share lives in a layer below them). Docstring only: no re-exports.
"""
