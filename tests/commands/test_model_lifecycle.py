"""The reference update procedure from the command line, on the demo model: import a
version (staged), smoke-test it, promote it, bring in a second version, promote that,
roll back, retire it, remove it after the retention period; every step audited."""

from __future__ import annotations

import pytest

from tests.helpers.audit_logs import entries_of
from tests.helpers.cli import strongroom

pytestmark = pytest.mark.model

NAME = "SmolLM2-135M-Instruct"


def ok(*args, home):
    result = strongroom(*args, home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def states(home):
    import json

    return {s["version"][:8]: s["state"] for s in json.loads(ok("store", "list", "--json", home=home))}


def chat(home):
    return strongroom("chat", "--model", NAME, "--max-tokens", "16", "--temperature", "0", "Hi", home=home)


def test_the_reference_update_procedure(home, demo_drive, second_version_drive):
    ok("import", str(demo_drive), "--yes", home=home)
    (first,) = states(home)
    assert states(home) == {first: "staged"}
    refused = chat(home)
    assert refused.returncode != 0 and "not yet usable: its version is staged" in refused.stderr
    assert f"strongroom store smoke-test {NAME}\n" in refused.stderr
    assert f"strongroom store promote {NAME}\n" in refused.stderr

    unvetted = strongroom("store", "promote", NAME, home=home)
    assert unvetted.returncode == 1 and "not had its smoke test" in unvetted.stderr
    assert "--override" in unvetted.stderr and states(home) == {first: "staged"}

    tested = ok("store", "smoke-test", NAME, home=home)
    assert tested.count("ok    ") == 3 and "passed" in tested and "tokens/s" in tested
    ok("store", "promote", NAME, home=home)
    assert states(home) == {first: "active"}
    assert chat(home).returncode == 0

    ok("import", str(second_version_drive), "--yes", home=home)
    (second,) = set(states(home)) - {first}
    assert states(home) == {first: "active", second: "staged"}
    ok("store", "smoke-test", NAME, second, home=home)
    promoted = ok("store", "promote", NAME, second, home=home)
    assert f"{NAME}/{first}" in promoted and "previous" in promoted
    assert states(home) == {first: "previous", second: "active"}

    ok("store", "rollback", NAME, home=home)
    assert states(home) == {first: "active", second: "staged"}
    ok("store", "retire", NAME, second, home=home)
    assert "Nothing to remove" in ok("store", "gc", home=home)  # 30 days have not passed
    assert states(home) == {first: "active", second: "retired"}

    from strongroom.core.settings import Settings

    Settings(home.settings_file).update({"retention_days": 0})
    assert f"removed {NAME}/{second}" in ok("store", "gc", home=home)
    assert states(home) == {first: "active"}
    assert chat(home).returncode == 0  # the shared model file stayed

    lifecycle = [(e["details"]["action"], e["details"]["version"][:8], e["user_id"])
                 for e in entries_of(home.audit_log) if e["event"] == "model_lifecycle"]
    import getpass

    user = getpass.getuser()
    assert lifecycle == [("staged", first, user), ("smoke tested", first, user),
                         ("promoted", first, user), ("staged", second, user),
                         ("smoke tested", second, user), ("promoted", second, user),
                         ("rolled back", first, user), ("retired", second, user),
                         ("removed", second, user)]


def test_promoting_without_a_test_needs_an_override_that_is_recorded(home, demo_drive):
    ok("import", str(demo_drive), "--yes", home=home)
    ok("store", "promote", NAME, "--override", home=home)
    (entry,) = [e for e in entries_of(home.audit_log)
                if e["event"] == "model_lifecycle" and e["details"]["action"] == "promoted"]
    assert entry["details"]["override"] is True and entry["details"]["smoke_test_passed"] is None


def test_a_version_whose_files_changed_is_not_promoted(home, demo_drive):
    import os

    ok("import", str(demo_drive), "--yes", home=home)
    version = next((home.store_dir / "models" / NAME).iterdir())
    model = next(version.glob("*.gguf"))
    blob = home.store_dir / "blobs" / os.readlink(model) if model.is_symlink() else model
    os.chmod(blob, 0o644)
    with open(blob, "r+b") as handle:
        handle.seek(4096)
        handle.write(b"\0" * 16)
    refused = strongroom("store", "promote", NAME, "--override", home=home)
    assert refused.returncode == 1 and "no longer verifies" in refused.stderr
    assert states(home) == {version.name[:8]: "staged"}


def test_remove_asks_unless_told_yes(home, demo_drive):
    ok("import", str(demo_drive), "--yes", home=home)
    (version,) = states(home)
    asked = strongroom("store", "remove", NAME, version, home=home)
    assert asked.returncode == 2 and "--yes" in asked.stderr and states(home) == {version: "staged"}
    ok("store", "remove", NAME, version, "--yes", home=home)
    assert states(home) == {}
    assert not any((home.store_dir / "blobs").iterdir())  # no other version used its files


def test_another_process_changing_the_store_refuses_a_promotion(home, demo_drive):
    import subprocess
    import sys

    ok("import", str(demo_drive), "--yes", home=home)
    holder = subprocess.Popen(  # another Strongroom importing, say: it holds the store's lock
        [sys.executable, "-c", "import fcntl, sys\nlock = open(sys.argv[1], 'a+')\n"
         "fcntl.flock(lock, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()",
         str(home.store_dir / ".lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = strongroom("store", "promote", NAME, "--override", home=home)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert refused.returncode == 1 and "Another Strongroom window or command" in refused.stderr
    (version,) = states(home)
    assert states(home) == {version: "staged"}
    ok("store", "promote", NAME, "--override", home=home)  # once it is free
    assert states(home) == {version: "active"}
