"""The registry's domain: tag names and their parsing (`tags`), the folder layout (`layout`),
dvc.yaml's artifacts section (`dvcyaml`), requirements between artifacts (`requirements`), the
settings and gates of params.yaml (`policy`), the trust policy (`trust`), whether a clone lacks
registry tags or history (`clone_history`), tombstones of retired folders (`retirements`),
version order (`versionorder`), the fold of tag events into the registry state (`fold`) and
the loader that reads a repository's tags into it (`state`: the write side and every
git-backed source load tags this one way), what held each stage when (`history`, given the
events and commits) and a record's JSON form (`jsonform`). It may import `errors` and
`adapters`; nothing above it. Some modules here run git (state, clone_history, retirements,
policy's committed settings). Docstring only: no re-exports.
"""
