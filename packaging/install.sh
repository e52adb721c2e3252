#!/usr/bin/env bash
# Installs Strongroom from this wheelhouse, with no network:
#
#     ./install.sh --trust officer-key.pub.pem [TARGET_FOLDER]   (default: ~/.local/share/strongroom-app)
#
# 1. checks the officer's signature over checksums.sha256 (checksums.sha256.sig) with openssl,
#    against the public key you were given separately (never one from this folder): a
#    missing or wrong signature stops everything, before any file here is trusted;
# 2. checks every file against checksums.sha256 (a changed, missing or extra file stops
#    everything, named);
# 3. installs into a new virtual environment with --no-index --require-hashes, then runs
#    the app's self-test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
trust=""
target=""
while [ $# -gt 0 ]; do
    case "$1" in
        --trust) trust=${2:-}; shift 2 || { echo "--trust needs a public key file" >&2; exit 2; } ;;
        --trust=*) trust=${1#--trust=}; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) target=$1; shift ;;
    esac
done
target=${target:-"$HOME/.local/share/strongroom-app"}
if [ -z "$trust" ]; then
    cat >&2 <<'EOF'
REFUSED: give the officer's public key with --trust officer-key.pub.pem.
A checksum file cannot vouch for itself: whoever could change the wheels could change it
too. The officer's signature over it is what shows who made this wheelhouse.
Nothing was installed.
EOF
    exit 2
fi
if [ ! -f "$trust" ]; then
    echo "REFUSED: the public key $trust does not exist. Nothing was installed." >&2
    exit 2
fi
trust=$(cd "$(dirname "$trust")" && pwd)/$(basename "$trust")
cd "$here"
case "$trust" in
    "$here"/*) echo "REFUSED: the public key must not come from the wheelhouse itself ($trust). Nothing was installed." >&2
               exit 2 ;;
esac
if ! command -v openssl >/dev/null; then
    echo "REFUSED: openssl is needed to check the signature and is not installed. Nothing was installed." >&2
    exit 1
fi

echo "Checking the signature over checksums.sha256 with the key $(sha256sum "$trust" | cut -c1-16)…"
if [ ! -f checksums.sha256.sig ] || [ -L checksums.sha256.sig ] || [ -L checksums.sha256 ]; then
    echo "REFUSED: this wheelhouse is not signed (checksums.sha256.sig is missing). Nothing was installed." >&2
    exit 1
fi
if ! openssl dgst -sha256 -verify "$trust" -signature checksums.sha256.sig checksums.sha256 >/dev/null 2>&1; then
    echo "REFUSED: the signature over checksums.sha256 does not hold for the key $trust: the" >&2
    echo "wheelhouse was changed, or signed by someone else. Nothing was installed." >&2
    exit 1
fi

echo "Checking every file of this wheelhouse against checksums.sha256…"
if ! sha256sum --check --strict --quiet checksums.sha256; then
    echo "REFUSED: the files named above are changed or missing. Nothing was installed." >&2
    exit 1
fi
extra=$(comm -13 <(sed -E 's/^\\?[0-9a-f]{64} [ *]//' checksums.sha256 | sort) \
                 <(find . -type f ! -name checksums.sha256 ! -name airgap_manifest.json \
                       ! -path ./checksums.sha256.sig ! -path ./model.sig -printf '%P\n' | sort))
if [ -n "$extra" ]; then
    printf 'REFUSED: files not listed in checksums.sha256:\n%s\nNothing was installed.\n' "$extra" >&2
    exit 1
fi
if [ -n "$(find . -type l -print -quit)" ]; then  # (no `| grep -q` under pipefail: SIGPIPE)
    echo "REFUSED: the wheelhouse contains symbolic links. Nothing was installed." >&2
    exit 1
fi

echo "Installing into $target (offline)…"
"$python" -m venv "$target"
"$target/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
    --find-links "$here" --require-hashes -r requirements.txt
"$target/bin/strongroom" --self-test
echo "Installed. Start Strongroom with: $target/bin/strongroom"
