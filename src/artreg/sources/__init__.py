"""Where a registry is read from, decided once: a clone, a registry URL (read into the consumer
cache), a lock file's pins, or the cache alone (offline). `locate.open_source` builds one
`base.RegistrySource`; each variant (`clone`, `url`, `lock`, `offline`) does that source's I/O
and answers the read commands; the logic every variant shares is in `artreg.reading`. Beside
them: the tags loaded into the registry state (`state`), the consumer cache (`cache`, keyed by
`identity`) and which registry a command works on (`location`). It may
import `reading`, the feature modules that read a clone (fetch, queries) and the shared modules;
nothing here imports the CLI or the API. Docstring only: no re-exports.
"""
