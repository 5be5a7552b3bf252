"""The registry's domain: tag names and their parsing (`tags`), the folder layout (`layout`),
dvc.yaml's artifacts section (`dvcyaml`), requirements between artifacts (`requirements`), the
settings and gates of params.yaml (`policy`), field values (`values`), the trust policy (`trust`,
`trust_ratchet`), tombstones of retired folders (`retirements`), version order (`versionorder`),
the fold of tag events into the registry state (`fold`), what held each stage when
(`history`, given the events and commits) and a record's JSON form (`jsonform`). It may import `errors`, `adapters`
and, until issue 25's S6 moves the trust ratchet, `sources` (the consumer cache); never `publishing`, `services` or `present`. Some modules
here still run git (retirements, trust_ratchet, policy's committed settings); S6 moves that to
the sources. Docstring only: no re-exports.
"""
