"""What artreg shows a person: text and JSON (`text` for the building blocks and the writes,
`queries` for the read commands, `consumer` for gc, pins, the cache and the site), the
reviewer's markdown (`markdown`) and the static site (`site/`). A presentation module turns the
results of the layers below it (services and sources) into pages or text; it may import those
layers, the domain and the adapters, but nothing imports it except the CLI, the API and the
demo (the gate table a model card holds is `publishing.gatetable`, below it). It never
runs a command's logic itself. Docstring only: no re-exports, so importing one presentation
module loads no other.
"""
