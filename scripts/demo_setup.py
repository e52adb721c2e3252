"""Brings the demo model and the embedding model into this computer's Strongroom the way
every model comes in, and leaves both usable, whatever an earlier run left behind.

1. A demo officer key, made once in ``.cache/demo-officer`` (in a folder of its own that is
   renamed into place only when whole, so a half-made key is never used), and trusted
   here as the demo key: `strongroom compliance` stays amber while it is, because its
   private key sits in the checkout. A demo key from an earlier checkout that is no longer
   on disk is no longer trusted.
2. For each model: a transfer drive made by `strongroom prepare --sign` (made aside and
   renamed into place; made again when the key is new or the drive no longer imports),
   `strongroom import` (verified, copied into the store), and, when no version of the model
   is active yet, `strongroom store smoke-test` and `strongroom store promote`, each step
   recorded in the audit log as an officer's would be.

Every step asks the command line its question directly (`--json`) and is safe to run again:
`make run` runs this before every start. A lock lets two runs at once take turns. Each
step prints one line; a command that fails has its whole output shown.

    .venv/bin/python scripts/demo_setup.py
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FETCHED = ROOT / ".cache"  # the model files scripts/bootstrap.sh fetched and checked
# Where the demo key and drives are made (tests give a folder of their own).
CACHE = Path(os.environ.get("STRONGROOM_DEMO_CACHE", FETCHED))
OFFICER = CACHE / "demo-officer"
OFFICER_FILES = ("officer-key.pem", "officer-key.pub.pem", "passphrase.txt")
OFFICER_NAME = "Demo officer (made by the setup on this computer)"


@dataclass(frozen=True)
class DemoModel:
    name: str
    model_id: str
    file: Path
    drive: Path


MODELS = (
    DemoModel("SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct",
              FETCHED / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf", CACHE / "demo-drive"),
    DemoModel("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
              FETCHED / "embedding" / "all-MiniLM-L6-v2.F16.gguf", CACHE / "demo-embedding-drive"),
)


class SetupFailed(Exception):
    """A step failed; the message holds what the command said."""


def say(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr, flush=True)


def strongroom(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a `strongroom` command with its output captured (it is shown if it fails)."""
    done = subprocess.run([sys.executable, "-m", "strongroom", *map(str, args)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise SetupFailed(f"`strongroom {' '.join(map(str, args))}` failed "
                          f"(exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def replace_folder(made: Path, target: Path) -> None:
    """Put the finished folder ``made`` where ``target`` is (whatever was there goes)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(made, target)
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers() -> None:
    """Folders an interrupted run was making (nothing uses them)."""
    for leftover in CACHE.glob("demo-*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)


def ensure_officer_key() -> bool:
    """The demo officer's key pair; True when it was made now."""
    if all((OFFICER / name).is_file() for name in OFFICER_FILES):
        return False
    making = OFFICER.with_name(OFFICER.name + ".partial")
    shutil.rmtree(making, ignore_errors=True)
    making.mkdir(mode=0o700, parents=True)
    passphrase = making / "passphrase.txt"
    passphrase.write_text(secrets.token_urlsafe(24) + "\n")
    passphrase.chmod(0o600)
    strongroom("officer", "keygen", "--out", making, "--passphrase-file", passphrase)
    # The key files name the folder they were made in only by their own names: it can move.
    replace_folder(making, OFFICER)
    return True


def ensure_trusted() -> None:
    """Trust the demo key here (a no-op when it is), and forget demo keys whose private
    half is gone with an earlier checkout."""
    from strongroom.core.transfer.signatures import fingerprint_of, load_public_key

    public = OFFICER / "officer-key.pub.pem"
    fingerprint = fingerprint_of(load_public_key(public.read_bytes(), str(public)))
    strongroom("trust", "add", public, "--name", OFFICER_NAME, "--demo")
    for key in json.loads(strongroom("trust", "list", "--json").stdout)["keys"]:
        if key["demo"] and key["fingerprint"] != fingerprint:
            strongroom("trust", "remove", key["fingerprint"])
            say(f"no longer trusted: an earlier demo key ({key['fingerprint'][:16]}), whose "
                "private key is gone")
    say(f"officer key: {OFFICER.relative_to(ROOT) if OFFICER.is_relative_to(ROOT) else OFFICER}, "
        "trusted here as the demo key")


def make_drive(model: DemoModel) -> None:
    say(f"{model.name}: making its signed transfer drive…")
    making = model.drive.with_name(model.drive.name + ".partial")
    shutil.rmtree(making, ignore_errors=True)
    strongroom("prepare", making, "--file", model.file, "--name", model.name,
               "--model-id", model.model_id, "--sign", OFFICER / "officer-key.pem",
               "--passphrase-file", OFFICER / "passphrase.txt")
    replace_folder(making, model.drive)


def ensure_imported(model: DemoModel, new_key: bool) -> str:
    """Import the model's drive (made first when needed); what happened, in words."""
    made = new_key or not model.drive.is_dir()
    if made:
        make_drive(model)
    say(f"{model.name}: importing…")
    imported = strongroom("import", model.drive, "--yes", check=made)
    if imported.returncode != 0:  # a drive left by an older setup, or changed since
        make_drive(model)
        imported = strongroom("import", model.drive, "--yes")
        made = True
    already = "already in the store" in imported.stdout
    return ("drive made, " if made else "") + ("already imported" if already else "imported")


def ensure_active(model: DemoModel) -> str:
    """Smoke-test and promote the newest version unless a version is active already."""
    states = [s for s in json.loads(strongroom("store", "list", "--json").stdout)
              if s["name"] == model.name]
    if any(s["state"] == "active" for s in states):
        return "active"
    if not states:
        raise SetupFailed(f"{model.name} is not in the store after its import")
    newest = states[0]  # `store list` gives each model's newest import first
    said = []
    if not (newest.get("smoke_test") or {}).get("passed"):
        say(f"{model.name}: smoke test…")
        strongroom("store", "smoke-test", model.name, newest["version"])
        said.append("smoke test passed")
    say(f"{model.name}: promoting…")
    strongroom("store", "promote", model.name, newest["version"])
    return ", ".join(said + ["promoted"])


def main() -> int:
    missing = [str(m.file) for m in MODELS if not m.file.is_file()]
    if missing:
        say(f"missing (run scripts/bootstrap.sh first): {', '.join(missing)}")
        return 1
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "demo-setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits here, then finds it all done
        try:
            remove_leftovers()
            new_key = ensure_officer_key()
            ensure_trusted()
            for model in MODELS:
                how = ensure_imported(model, new_key)
                say(f"{model.name}: {how}, {ensure_active(model)}")
            say("ready")
        except SetupFailed as failure:
            say(str(failure))
            return 1
        except KeyboardInterrupt:
            say("interrupted; run it again to finish (what was half-made is made again)")
            return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
