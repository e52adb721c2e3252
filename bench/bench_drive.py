"""Verifying and importing a transfer drive, against coreutils on the same files, in one run.

Figures (issue: transfer drives; signed drives):
  - verifying a multi-file drive ÷ `sha256sum -c` of its transfer manifest (≤ 0.25)
  - verifying the same drive signed by a trusted officer key ÷ verifying it unsigned (≤ 1.05):
    the signatures are checked against the digests verification computes, in one read
  - importing a model (verify + copy into the store) ÷ a plain `cp` of the same files (≤ 1.15);
    also shown against `cp` followed by `sync`, since an import fsyncs what it stores

The drive is a model of several large files (random bytes, like weight shards), prepared
by `strongroom prepare`. Every command runs once to warm the page cache, then the two sides
alternate; medians are reported. GGUF header checking is not part of these figures (the
files are not GGUF); its fixed cost per model file is printed separately.

    .venv/bin/python bench/bench_drive.py [--files N] [--mb SIZE] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / ".cache" / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf"

from strongroom.core.store.model_store import ModelStore  # noqa: E402
from strongroom.core.transfer.drive import open_drive, verify_drive  # noqa: E402
from strongroom.core.transfer.gguf_check import check_gguf  # noqa: E402
from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest  # noqa: E402
from strongroom.core.transfer.signatures import generate_key_pair  # noqa: E402
from strongroom.core.transfer.signing_drives import sign_verified  # noqa: E402
from strongroom.core.transfer.trust import TrustPolicy, TrustStore  # noqa: E402


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def make_drive(work: Path, files: int, megabytes: int) -> Path:
    source = work / "source"
    source.mkdir()
    for index in range(files):
        with open(source / f"model-{index + 1:05d}-of-{files:05d}.bin", "wb") as handle:
            for _ in range(megabytes):
                handle.write(os.urandom(1024 * 1024))
    drive = work / "drive"
    prepare_local(drive, "sharded-model", [source])
    write_transfer_manifest(drive)
    shutil.rmtree(source)
    return drive


def trusted_policy(work: Path, public: Path) -> TrustPolicy:
    """The policy a workstation has after `strongroom trust add` of ``public``."""
    from strongroom.core.secrets import SecretStore

    store = TrustStore(SecretStore("file", "bench", work / "secrets"))
    store.add(public.read_bytes(), "Bench Officer", str(public), "bench")
    return store.policy()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mb", type=int, default=128)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-drive-"))
    try:
        drive = make_drive(work, args.files, args.mb)
        model_folder = drive / "models" / "sharded-model"
        signed = work / "signed-drive"
        subprocess.run(["cp", "-r", str(drive), str(signed)], check=True)
        private, public, _ = generate_key_pair(work / "officer", b"bench passphrase")
        sign_verified(signed, private, b"bench passphrase")
        policy = trusted_policy(work, public)

        def sha256sum_check():
            subprocess.run(["sha256sum", "-c", "--quiet", "TRANSFER_MANIFEST.sha256"], cwd=drive,
                           check=True)

        def strongroom_verify():
            assert verify_drive(open_drive(drive)).ok

        def unsigned_verify():
            assert verify_drive(open_drive(drive), trust=TrustPolicy(require_signed=False)).ok

        def signed_verify():
            report = verify_drive(open_drive(signed), trust=policy)
            assert report.ok and len(report.signatures) == 2 and all(v.valid for v in report.signatures)

        copies = iter(range(10_000))

        def plain_cp():
            subprocess.run(["cp", "-r", str(model_folder), str(work / f"cp-{next(copies)}")], check=True)

        def cp_and_sync():
            target = work / f"cp-{next(copies)}"
            subprocess.run(["cp", "-r", str(model_folder), str(target)], check=True)
            subprocess.run(["sync", "-f", str(target)], check=True)

        def strongroom_import():
            store = ModelStore(work / f"store-{next(copies)}")
            opened = open_drive(drive)
            store.import_model(opened, opened.models[0])

        for action in (sha256sum_check, strongroom_verify, signed_verify, plain_cp, strongroom_import):
            action()  # warm the page cache and the code paths
        signing_times = {"unsigned": [], "signed": []}
        for _ in range(args.runs):
            signing_times["unsigned"].append(timed(unsigned_verify))
            signing_times["signed"].append(timed(signed_verify))
        verify_times = {"sha256sum": [], "strongroom": []}
        import_times = {"cp": [], "cp+sync": [], "strongroom": []}
        def clean(pattern: str) -> None:
            """Remove earlier copies, then let the disk write back everything pending, so
            that no run pays for another's writeback."""
            for leftover in work.glob(pattern):
                subprocess.run(["chmod", "-R", "u+w", str(leftover)], check=True)
                shutil.rmtree(leftover)
            subprocess.run(["sync"], check=True)

        for _ in range(args.runs):
            verify_times["sha256sum"].append(timed(sha256sum_check))
            verify_times["strongroom"].append(timed(strongroom_verify))
            clean("cp-*")
            import_times["cp"].append(timed(plain_cp))
            clean("cp-*")
            import_times["cp+sync"].append(timed(cp_and_sync))
            clean("cp-*")
            import_times["strongroom"].append(timed(strongroom_import))
            clean("store-*")
        v = {k: statistics.median(t) for k, t in verify_times.items()}
        i = {k: statistics.median(t) for k, t in import_times.items()}
        total_mb = args.files * args.mb
        print(f"drive benchmark: {args.files} files × {args.mb} MB = {total_mb} MB, "
              f"{os.cpu_count()} CPUs, median of {args.runs}")
        print(f"  sha256sum -c          {v['sha256sum']:.2f} s")
        print(f"  strongroom verify     {v['strongroom']:.2f} s   "
              f"ratio {v['strongroom'] / v['sha256sum']:.3f}   (target ≤ 0.25)")
        s = {k: statistics.median(t) for k, t in signing_times.items()}
        print(f"  verify, unsigned      {s['unsigned']:.2f} s")
        print(f"  verify, signed        {s['signed']:.2f} s   ratio {s['signed'] / s['unsigned']:.3f}"
              "   (target ≤ 1.05; drive and model signatures, trusted key)")
        print(f"  cp -r                 {i['cp']:.2f} s")
        print(f"  cp -r && sync         {i['cp+sync']:.2f} s")
        print(f"  strongroom import     {i['strongroom']:.2f} s   ratio to cp {i['strongroom'] / i['cp']:.2f}"
              f" (target ≤ 1.15), to cp+sync {i['strongroom'] / i['cp+sync']:.2f}")
        best = {k: min(t) for k, t in import_times.items()}
        print(f"  fastest runs: cp {best['cp']:.2f} s, cp+sync {best['cp+sync']:.2f} s, import "
              f"{best['strongroom']:.2f} s (this machine's disk writes back erratically: runs of the "
              "same copy vary up to 3×)")
        if DEMO_MODEL.is_file():
            check = timed(lambda: check_gguf(DEMO_MODEL))
            print(f"  GGUF header check (subprocess, {DEMO_MODEL.name}): {check:.2f} s per model file")
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
