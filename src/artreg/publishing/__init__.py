"""The write side below the services: building a stage folder, the transaction, publishing
(commit, tags, push) and what every promotion shares (`promotion`, `release_checks`). It may
import the registry domain, artifacts, adapters and sources; never services, cli or present."""
