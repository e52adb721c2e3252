"""Writes airgap_manifest.json and checksums.sha256 for a folder (the bundle, the wheelhouse).

    .venv/bin/python packaging/write_manifests.py FOLDER --model-id ID --revision REV --kind KIND
"""

from __future__ import annotations

import argparse
from pathlib import Path

from strongroom.core.transfer.prepare import write_folder_manifests
from strongroom.core.units import human_size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--revision", required=True)
    parser.add_argument("--kind", required=True, help="what the folder is, for the manifest")
    args = parser.parse_args()
    entries = write_folder_manifests(args.folder, args.model_id, args.revision, {"kind": args.kind})
    total = sum(e.size for e in entries.values())
    print(f"{args.folder}: {len(entries)} files, {human_size(total)}; manifests written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
