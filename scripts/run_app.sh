#!/usr/bin/env bash
# Brings the demo model, and the embedding model that document search uses, in the way any
# model comes in (transfer drives made and signed by `strongroom prepare --sign`, then the
# verified import), then opens the window.
#
# The drive is signed with a demo officer key that this script makes once and trusts on
# this computer, so a newcomer's first import goes through the signed path. Its private
# key sits in .cache/demo-officer: on a real workstation, remove it from the trusted keys
# (`strongroom trust remove`, with the fingerprint `strongroom trust list` shows).
set -euo pipefail
cd "$(dirname "$0")/.."
drive=.cache/demo-drive
model=.cache/demo/SmolLM2-135M-Instruct.Q4_1.gguf
officer=.cache/demo-officer
if [ ! -f "$officer/officer-key.pem" ]; then
    rm -rf "$officer"
    mkdir -m 700 -p "$officer"
    (umask 077; head -c 24 /dev/urandom | base64 > "$officer/passphrase.txt")
    .venv/bin/strongroom officer keygen --out "$officer" --passphrase-file "$officer/passphrase.txt" >/dev/null
fi
if ! .venv/bin/strongroom trust list | grep -q "^Demo officer"; then
    .venv/bin/strongroom trust add "$officer/officer-key.pub.pem" \
        --name "Demo officer (made by the setup on this computer)"
fi
prepare_and_import() {  # DRIVE FILE NAME MODEL_ID
    if [ ! -f "$1/TRANSFER_MANIFEST.sig" ]; then
        rm -rf "$1"
        .venv/bin/strongroom prepare "$1" --file "$2" --name "$3" --model-id "$4" \
            --sign "$officer/officer-key.pem" --passphrase-file "$officer/passphrase.txt"
    fi
    .venv/bin/strongroom import "$1" --yes
}
prepare_and_import "$drive" "$model" SmolLM2-135M-Instruct HuggingFaceTB/SmolLM2-135M-Instruct
prepare_and_import .cache/demo-embedding-drive .cache/embedding/all-MiniLM-L6-v2.F16.gguf \
    all-MiniLM-L6-v2 sentence-transformers/all-MiniLM-L6-v2
exec .venv/bin/strongroom "$@"
