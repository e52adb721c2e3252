#!/usr/bin/env bash
# Builds the one-folder app bundle in dist/strongroom, with its own manifests (signed with
# the officer key named by STRONGROOM_SIGNING_KEY, see packaging/signing.sh), so that
# `strongroom verify dist/strongroom` and `sha256sum -c checksums.sha256` check it after
# transport. The llama.cpp inside is the portable build scripts/bootstrap.sh made (or the
# GPU build STRONGROOM_CMAKE_ARGS asked for).
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/signing.sh
scripts/bootstrap.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/packaging.txt
rm -rf dist/strongroom build/bundle
echo "[bundle] building with PyInstaller" >&2
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist \
    --workpath build/bundle packaging/strongroom.spec
# PyInstaller adds convenience links to libraries it keeps in subfolders. The bundle runs
# without them, and a bundle carried on a FAT drive or checked by Strongroom's verifier
# (which refuses links) must hold plain files only.
find dist/strongroom -type l -delete
version=$(.venv/bin/python -c 'import strongroom; print(strongroom.__version__)')
.venv/bin/python packaging/write_manifests.py dist/strongroom --model-id strongroom-app-bundle \
    --revision "$version" --kind "app bundle, $(uname -m)" "${signing[@]}"
du -sh dist/strongroom >&2
