"""DVC underneath the registry, the only package that imports dvc, dvc_data or dvc_objects:
`repo` (configuration, ignore rules, init), `cache` (the cache folder and DVC's on-disk format
written in one pass and read back: pointers, objects, `.dir` listings) and `remote` (push, fetch,
checkout, gc on a remote, a consumer's reads of a remote). It may import the other adapters and
`artreg.errors` only. Docstring only: no re-exports.
"""
