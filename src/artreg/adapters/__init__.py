"""The boundary to the tools and the system artreg builds on: git (`adapters.git`, the only
place that runs it), DVC, strict file reading and writing, hashing, locks and settings. Modules
here import nothing of artreg above them (no registry domain, services or presentation)."""
