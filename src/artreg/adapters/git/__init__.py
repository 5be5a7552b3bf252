"""The git adapter: running git and reading its answers (refs, history, blobs). It may import
only other adapters and the error types."""
