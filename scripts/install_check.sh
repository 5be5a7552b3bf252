#!/usr/bin/env bash
# `pip install artreg` must give a working CLI from the dependencies pyproject.toml declares.
# A fresh venv gets the package (no dev extra), constrained to the lock file's versions only so
# that pip takes the CPU torch on disk instead of resolving the newest CUDA build (GBs); pip still
# installs nothing that pyproject.toml does not declare. Then: list works without torch, the demo
# asks for the torch extra by name, and with `artreg[torch]` the demo runs the whole lifecycle.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
pip_install() {
    # This machine's pip configuration names index folders that may be absent: drop that noise.
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check -c requirements.lock "$@" \
        2> >(grep -v "^WARNING: Location" >&2)
}
pip_install .
artreg="$work/venv/bin/artreg"
git init --quiet "$work/empty"
(cd "$work/empty" && "$artreg" init . >/dev/null && "$artreg" list)
if "$artreg" demo "$work/no-torch" >"$work/out" 2>&1; then
    echo "install-check: the demo ran without torch installed" >&2; exit 1
fi
grep -q 'pip install "artreg\[torch\]"' "$work/out" || { cat "$work/out"; exit 1; }
pip_install ".[torch]"
"$artreg" demo "$work/demo" >/dev/null
(cd "$work/demo/registry" && "$artreg" list && "$artreg" verify)
echo "install-check: pip install . gives a working CLI (list without torch; demo with artreg[torch])"
