"""What artreg shows a person: the static site today (text, JSON and markdown join it as the
redesign of issue 25 proceeds). A presentation module turns the results of the layers below it
(features, and later services) into pages or text; it may import those layers, the domain and
the adapters, but nothing imports it except the CLI and the API. It never runs a command's
logic itself. Docstring only: no re-exports, so importing one presentation module loads no other.
"""
