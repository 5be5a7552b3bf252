"""One module per user-facing command (register, validate, release, review, ...): each checks
its input, reads or writes through the layers below and returns data, never text. Services are
leaves: they do not import each other; cli, api and present sit above them."""
