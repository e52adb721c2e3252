# Sourced by the build scripts: the officer key that signs what they build.
#
#     STRONGROOM_SIGNING_KEY=~/keys/officer-key.pem \
#     STRONGROOM_SIGNING_PASSPHRASE_FILE=~/keys/passphrase.txt make wheelhouse
#
# Without a key the build still runs, unsigned, and says so: the installer refuses an
# unsigned wheelhouse, and a workstation that requires signatures refuses an unsigned bundle.
signing=()
if [ -n "${STRONGROOM_SIGNING_KEY:-}" ]; then
    signing=(--sign "$STRONGROOM_SIGNING_KEY")
    if [ -n "${STRONGROOM_SIGNING_PASSPHRASE_FILE:-}" ]; then
        signing+=(--passphrase-file "$STRONGROOM_SIGNING_PASSPHRASE_FILE")
    fi
else
    echo "[build] STRONGROOM_SIGNING_KEY is not set: the result will NOT be signed" >&2
fi
