#!/usr/bin/env bash
# Builds dist/wheelhouse: every wheel Strongroom needs on the target Python and platform
# (hash-pinned in requirements/runtime.lock), the llama-cpp-python wheel built here, the
# Strongroom wheel itself, an install script, and the folder's manifests, signed with the
# officer key named by STRONGROOM_SIGNING_KEY (see packaging/signing.sh): install.sh refuses
# a wheelhouse without a good signature. Needs the package registry; everything after it
# works offline.
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/signing.sh
scripts/bootstrap.sh
out=dist/wheelhouse
rm -rf "$out" && mkdir -p "$out"
PIP=(.venv/bin/python -m pip --disable-pip-version-check)

echo "[wheelhouse] downloading the pinned wheels (hashes checked)" >&2
"${PIP[@]}" download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r requirements/runtime.lock -d "$out"
# `strongroom serve`'s extra, for the inference server (packaging/server/README.md).
"${PIP[@]}" download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r requirements/server.lock -d "$out"

llama=$(ls .cache/wheels/llama-*/llama_cpp_python-*.whl | head -1)
cp "$llama" "$out/"
"${PIP[@]}" wheel --quiet --no-deps --no-build-isolation -w "$out" .

# requirements.txt: every wheel here, each pinned to its hash, for --require-hashes.
{
    grep -v '^#' requirements/runtime.lock
    for wheel in "$out"/llama_cpp_python-*.whl "$out"/strongroom-*.whl; do
        name=$(basename "$wheel" | cut -d- -f1 | tr _ -)
        version=$(basename "$wheel" | cut -d- -f2)
        printf '%s==%s \\\n    --hash=sha256:%s\n' "$name" "$version" "$(sha256sum "$wheel" | cut -d' ' -f1)"
    done
} > "$out/requirements.txt"
grep -v '^#' requirements/server.lock > "$out/server-requirements.txt"

echo "[wheelhouse] checking that every dependency is here (resolving offline)" >&2
check=$(mktemp -d)
if ! "${PIP[@]}" download --quiet --no-index --find-links "$out" --only-binary=:all: \
        --require-hashes -r "$out/requirements.txt" -r "$out/server-requirements.txt" \
        -d "$check"; then
    echo "[wheelhouse] INCOMPLETE: a dependency is missing from $out (see above)" >&2
    rm -rf "$check"
    exit 1
fi
rm -rf "$check"

cp packaging/install.sh "$out/install.sh"
chmod +x "$out/install.sh"
version=$(.venv/bin/python -c 'import strongroom; print(strongroom.__version__)')
.venv/bin/python packaging/write_manifests.py "$out" --model-id strongroom-wheelhouse \
    --revision "$version" --kind "wheelhouse, CPython $(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') $(uname -m)" \
    "${signing[@]}"
du -sh "$out" >&2
