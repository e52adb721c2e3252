#!/usr/bin/env bash
# Installs Strongroom from this wheelhouse, with no network: checks every file against
# checksums.sha256 first (a changed, missing or extra file stops everything, named), then
# installs into a new virtual environment with --no-index --require-hashes, then runs the
# app's self-test.
#
#     ./install.sh [TARGET_FOLDER]      (default: ~/.local/share/strongroom-app)
#
# Check this folder with `sha256sum -c checksums.sha256` (or `strongroom verify`) on a
# trusted machine before running this script: a script cannot vouch for itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-"$HOME/.local/share/strongroom-app"}
python=${PYTHON:-python3}
cd "$here"

echo "Checking every file of this wheelhouse against checksums.sha256…"
if ! sha256sum --check --strict --quiet checksums.sha256; then
    echo "REFUSED: the files named above are changed or missing. Nothing was installed." >&2
    exit 1
fi
extra=$(comm -13 <(sed -E 's/^\\?[0-9a-f]{64} [ *]//' checksums.sha256 | sort) \
                 <(find . -type f ! -name checksums.sha256 ! -name airgap_manifest.json \
                       -printf '%P\n' | sort))
if [ -n "$extra" ]; then
    printf 'REFUSED: files not listed in checksums.sha256:\n%s\nNothing was installed.\n' "$extra" >&2
    exit 1
fi
if find . -type l | grep -q .; then
    echo "REFUSED: the wheelhouse contains symbolic links. Nothing was installed." >&2
    exit 1
fi

echo "Installing into $target (offline)…"
"$python" -m venv "$target"
"$target/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
    --find-links "$here" --require-hashes -r requirements.txt
"$target/bin/strongroom" --self-test
echo "Installed. Start Strongroom with: $target/bin/strongroom"
