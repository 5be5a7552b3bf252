"""Where a registry is read from, decided once: a clone, a registry URL (read into the consumer
cache), a lock file's pins, or the cache alone (offline). `locate.open_source` builds one
`base.RegistrySource`; each variant (`clone`, `url`, `lock`, `offline`) does that source's I/O
and answers the read commands; the logic every variant shares is in `artreg.reading`. What every
git-backed variant reads the same way, over a clone's repository or a URL's cache repository:
`clone_fetch` (resolve, signature, verify), `clone_pull` (pull, export), `listing` (list, show), `asof` (the
registry as of a moment); a clone's full read path is split by command (`clone_reads` list,
`clone_show` show, `clone_serve` the reads that serve bytes). Beside them: which registry a command works on (`location`); the
consumer cache and the tag loader every variant uses are below it (`reading.cache`,
`registry.state`). It may import `reading`, `publishing`, `artifacts`, `registry`, `adapters`;
never `services`, the CLI or the API. Docstring only: no re-exports.
"""
