"""What a model file is and whether it is intact: loading and cleaning checkpoints (`checkpoints`,
the only module besides the demo that imports torch), Hugging Face folder layouts (`hflayout`)
the integrity check of a registry's folders against their manifests (`integrity`), formats
(`formats/`), signing (`signing/`), the air-gapped bundle's file layout (`bundlefile`) and a
committed stage folder's bytes fetched and verified (`stagebytes`: work tree, DVC cache, remote)
and what a folder's data still needs (`reachability`: the one model gc and bundles share). It may import `registry`, `adapters` and `errors`;
never `publishing`, `services` or `present`. Docstring only: no re-exports.
"""
