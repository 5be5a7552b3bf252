"""What a read does whatever the source: the spec checks, picking the tag that answers a name,
reading a committed manifest, the trust policy's record and a signature's verdict, writing a
verified export (`outputs`: where and how a read places files), the trust ratchet
(`trust_ratchet`: the policy a consumer applied, and the refusal of a weaker one), and the
consumer cache these reads keep (`cache`, keyed by `identity`, with its lock wait `cache_wait`,
its scratch folders' owners `tmp_owner` and the exact-folder check `exact_folder`). It imports
only the layers below it (`artifacts`, `registry`, `adapters`, `errors`); never `publishing`,
`sources`, `services` or the CLI. Docstring only: no re-exports.
"""
