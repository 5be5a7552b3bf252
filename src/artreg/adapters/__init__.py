"""Adapters to what artreg builds on: git, DVC, strict files and settings. The bottom layer:
it may import nothing of artreg above it (no registry domain, no services, no presentation)."""
