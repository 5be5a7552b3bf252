"""The registry's pure domain: the tag grammar, records and documents (manifest, metadata),
the fold of tags into the read model, layout names, format names, requirements, policy and
retention. Modules here import only each other, `artreg.errors` and `artreg.values`; they run
no tool (no git, no DVC) and read no file beyond what they are handed."""
