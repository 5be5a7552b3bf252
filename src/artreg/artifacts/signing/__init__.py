"""Signed models in the OpenSSF model-signing format (`model_signing`, the optional `signing`
extra): `keys` (the package, signing keys, the keys params.yaml trusts), `statement` (the in-toto
statement from the digests the manifest already records), `sign` (signing a folder, and the plan
a promotion signs by) and `verify` (reading a bundle, verifying it, the trust policy's verdict on
a folder). Only these modules import model_signing, always inside functions."""
