"""What a model file is and whether it is intact: loading and cleaning checkpoints (`checkpoints`,
the only module besides the demo that imports torch), Hugging Face folder layouts (`hflayout`)
and the integrity check of a registry's folders against their manifests (`integrity`). Formats
and signing join this package in issue 25. It may import `registry`, `adapters` and `errors`;
never `publishing`, `services` or `present`. Docstring only: no re-exports.
"""
