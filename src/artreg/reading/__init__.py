"""What a read does whatever the source: the spec checks, picking the tag that answers a name,
reading a committed manifest, the trust policy's record and a signature's verdict, and writing
a verified export (`outputs`: where and how a read places files). Pure logic over bytes, paths and the consumer cache; it imports only the
shared modules below it (never `sources`, `services` or the CLI). Docstring only: no re-exports.
"""
