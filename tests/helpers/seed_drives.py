"""The reference document's own procedure for making a transfer drive, run faithfully, so
that tests can check Strongroom against drives made the reference way."""

import hashlib
import json
import os
import subprocess
from pathlib import Path


def seed_download_and_verify_manifest(model_id: str, local_dir: Path) -> dict:
    """The manifest step of the reference `download_and_verify()`, faithfully (no download)."""
    manifest = {"model_id": model_id, "revision": "main", "files": {}}
    base = Path(local_dir)
    for filepath in sorted(base.rglob("*")):
        if filepath.is_file():
            relative = str(filepath.relative_to(base))
            sha256 = hashlib.sha256()
            with open(filepath, "rb") as f:
                for chunk in iter(lambda: f.read(65536), b""):
                    sha256.update(chunk)
            manifest["files"][relative] = {"sha256": sha256.hexdigest(),
                                           "size_bytes": filepath.stat().st_size}
    with open(Path(local_dir) / "airgap_manifest.json", "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def seed_verify_manifest(model_dir: Path) -> bool:
    """The reference `verify_manifest()`, faithfully, without its printing."""
    base = Path(model_dir)
    with open(base / "airgap_manifest.json") as f:
        manifest = json.load(f)
    for relative_path, expected in manifest["files"].items():
        filepath = base / relative_path
        if not filepath.exists():
            return False
        sha256 = hashlib.sha256()
        with open(filepath, "rb") as f:
            for chunk in iter(lambda: f.read(65536), b""):
                sha256.update(chunk)
        if sha256.hexdigest() != expected["sha256"]:
            return False
    return True


SEED_DRIVE_SCRIPT = r'''
set -e
cd "$WORK"
# the GGUF download loop: checksums recorded from the working folder
OUTPUT_DIR="./models/gguf/smollm2"
mkdir -p "$OUTPUT_DIR"
FILENAME="SmolLM2-135M-Instruct-Q4_1.gguf"
cp "$DEMO" "$OUTPUT_DIR/$FILENAME"
sha256sum "$OUTPUT_DIR/$FILENAME" >> "$OUTPUT_DIR/checksums.sha256"
# prepare_transfer_drive.sh
TRANSFER_DRIVE="$WORK/transfer_drive"
mkdir -p "$TRANSFER_DRIVE/models" "$TRANSFER_DRIVE/pip_cache" "$TRANSFER_DRIVE/scripts" "$TRANSFER_DRIVE/docs"
cp -a ./models/smollm2-snapshot "$TRANSFER_DRIVE/models/"
cp -a ./models/gguf/smollm2 "$TRANSFER_DRIVE/models/"
echo "wheel bytes" > "$TRANSFER_DRIVE/pip_cache/example-1.0-py3-none-any.whl"
echo "echo deploy" > "$TRANSFER_DRIVE/scripts/airgap_deploy.sh"
find "$TRANSFER_DRIVE" -type f -exec sha256sum {} \; \
| sort > "$TRANSFER_DRIVE/TRANSFER_MANIFEST.sha256"
cat > "$TRANSFER_DRIVE/TRANSFER_METADATA.txt" << EOF
Transfer date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
Prepared by: $(whoami)@$(hostname)
Purpose: Air-gapped LLM deployment
Models included: $(ls "$TRANSFER_DRIVE/models/")
File count: $(find "$TRANSFER_DRIVE" -type f | wc -l)
Total size: $(du -sh "$TRANSFER_DRIVE" | cut -f1)
SHA256 of this file: (computed below)
EOF
sync
'''


def make_seed_drive(work: Path, demo_model: Path) -> Path:
    """A transfer drive made by the reference commands in ``work``; returns it."""
    # download_model_for_airgap.py: a snapshot-style model folder with its JSON manifest
    snapshot = work / "models" / "smollm2-snapshot"
    snapshot.mkdir(parents=True)
    (snapshot / "model.gguf").write_bytes(demo_model.read_bytes())
    (snapshot / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    seed_download_and_verify_manifest("HuggingFaceTB/SmolLM2-135M-Instruct", snapshot)
    env = {**os.environ, "WORK": str(work), "DEMO": str(demo_model)}
    subprocess.run(["bash", "-c", SEED_DRIVE_SCRIPT], env=env, check=True, timeout=300)
    return work / "transfer_drive"
