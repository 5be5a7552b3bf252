"""git, through its own CLI: `run` (the one module that starts git processes, how a failure
becomes an error, and the facts about a repository), `read`, `write`, `history` (how complete a
clone is), `remote` (a registry named by URL, without a clone) and `tagstream` (the tag listing
started before the CLI's imports). The pieces build on `run`, and `write` asks `history` for the
default branch; beyond git they import errors and values, the strict JSON parser (`read.json_at`)
and the tag grammar (`history.has_registry_tags`, which the plan moves to the clone source)."""
