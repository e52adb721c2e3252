"""`strongroom audit`: creating the log (the key shown last, and never kept), what the
workstation checks without the key, "was this prompt asked?", and the key's fingerprint."""

import base64
import json

from strongroom.core.audit import keys
from strongroom.core.workspace import Workspace
from tests.helpers.audit_logs import read_lines, rechain, write_lines
from tests.helpers.cli import strongroom, strongroom_on_terminal


def key_of(output: str) -> str:
    return next(word for word in output.split() if word.startswith("SRAK-"))


def test_init_shows_the_key_and_its_fingerprint_and_keeps_neither(home, tmp_path):
    result = strongroom("audit", "init", home=home)  # from a script: the key is not printed
    assert result.returncode == 0 and "SRAK-" not in result.stdout + result.stderr
    assert "strongroom audit init --show-key-once" in result.stderr
    result = strongroom("audit", "init", "--show-key-once", home=home)
    key = key_of(result.stdout)
    root = keys.key_from_text(key)
    shown = keys.show_fingerprint(keys.key_fingerprint(root))
    assert f"Key fingerprint: {shown}" in result.stdout
    info = strongroom("audit", "info", home=home)
    assert shown in info.stdout and "SRAK" not in info.stdout
    again = strongroom("audit", "init", "--show-key-once", home=home)
    assert "SRAK" not in again.stdout + again.stderr
    assert "was shown once, by `strongroom audit init --show-key-once` on" in again.stdout
    for _ in range(3):  # and after entries
        strongroom("store", "verify", home=home)
    forms = [root, root.hex().encode(), key.encode(), key.replace("-", "").encode(),
             base64.b32encode(root).rstrip(b"=")]
    for path in home.data_dir.parent.rglob("*"):  # data, config, logs and the test keyring
        if path.is_file():
            data = path.read_bytes()
            assert not any(form in data for form in forms), f"the root key appears in {path}"


def test_a_command_that_creates_the_log_prints_the_key_last_on_a_terminal_once(home):
    result = strongroom("paths", home=home)  # does not open the log: no key
    assert "SRAK" not in result.stdout + result.stderr
    result = strongroom_on_terminal("store", "verify", home=home)
    assert result.returncode == 0
    lines = result.stderr.rstrip().splitlines()
    assert lines[-1] == "=" * 78 and any(line.strip().startswith("SRAK-") for line in lines[-10:])
    again = strongroom_on_terminal("store", "verify", home=home)
    assert "SRAK" not in again.stdout + again.stderr
    shown = [json.loads(line)["details"] for line in read_lines(home.audit_log)
             if json.loads(line)["event"] == "audit_key"]
    assert shown == [{"action": "verification key shown", "where": "terminal",
                      "key_fingerprint": shown[0]["key_fingerprint"]}]


def test_from_a_script_the_key_is_not_printed_but_kept_until_someone_sees_it(home):
    first = strongroom("store", "verify", home=home)
    assert "SRAK" not in first.stdout + first.stderr
    assert "whose verification key nobody has seen yet" in first.stderr
    assert "strongroom audit init --show-key-once" in first.stderr
    shown = strongroom_on_terminal("store", "verify", home=home)  # a person, later
    assert "SRAK-" in shown.stderr
    assert "nobody has seen" not in strongroom("store", "verify", home=home).stderr


def test_a_lost_key_gets_a_new_log_that_names_the_old_one(home):
    key = key_of(strongroom("audit", "init", "--show-key-once", home=home).stdout)
    with Workspace.open(home) as workspace:
        workspace.audit.app_start("before")
    refused = strongroom("audit", "new-log", "--reason", "verification key lost", home=home)
    assert refused.returncode == 2 and "nothing was changed" in refused.stderr
    replaced = strongroom("audit", "new-log", "--reason", "verification key lost", "--yes",
                          home=home)
    assert replaced.returncode == 0, replaced.stderr
    [old] = home.audit_log.parent.glob("audit.log.replaced-*")
    last = json.loads(read_lines(old)[-1])
    assert last["event"] == "audit_key" and last["details"]["action"] == "log replaced"
    assert last["details"]["reason"] == "verification key lost"
    assert strongroom("audit", "verify", str(old), "--key", key, home=home).returncode == 0
    first = json.loads(read_lines(home.audit_log)[0])
    continues = first["details"]["continues"]
    assert continues["file"] == old.name and continues["reason"] == "verification key lost"
    assert continues["sha256"] == __import__("hashlib").sha256(old.read_bytes()).hexdigest()
    new_key = key_of(strongroom("audit", "init", "--show-key-once", home=home).stdout)
    assert new_key != key
    assert strongroom("audit", "verify", "--key", new_key, home=home).returncode == 0


def test_on_the_workstation_a_plain_rewrite_and_a_cut_are_found_without_the_key(home):
    strongroom("audit", "init", home=home)
    with Workspace.open(home) as workspace:
        for n in range(5):
            workspace.audit.app_start(f"test {n}")
    entries = [json.loads(line) for line in read_lines(home.audit_log)]
    for entry in entries:
        entry["user_id"] = "mallory"
    write_lines(home.audit_log, rechain(entries))
    result = strongroom("audit", "verify", home=home)
    assert result.returncode == 1
    assert "the MACs of epoch 1 (the current one), with the key kept on this computer" in result.stdout
    assert "MAC wrong" in result.stdout and "RESULT: BROKEN" in result.stdout
    elsewhere = home.data_dir.parent.parent / "copy.log"  # the same bytes, not this computer's log
    elsewhere.write_bytes(home.audit_log.read_bytes())
    assert strongroom("audit", "verify", str(elsewhere), home=home).returncode == 0


def test_on_the_workstation_a_cut_tail_is_found_without_a_checkpoint(home):
    strongroom("audit", "init", home=home)
    with Workspace.open(home) as workspace:
        for n in range(5):
            workspace.audit.app_start(f"test {n}")
    write_lines(home.audit_log, read_lines(home.audit_log)[:-2])
    result = strongroom("audit", "verify", "--json", home=home)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["breaks"][0]["kind"] == "entries cut from the end"
    assert any("the head kept on this computer" in c for c in report["checked_with"])


def test_was_this_prompt_asked(home, tmp_path):
    from strongroom.core.audit import format as fmt

    key = key_of(strongroom("audit", "init", "--show-key-once", home=home).stdout)
    with Workspace.open(home) as workspace:
        workspace.audit.log.append(fmt.STARTED, {}, model_id="demo",
                                   digests={"prompt_hash": "Does patient X have HIV?"})
    without = strongroom("audit", "asked", "-", home=home, stdin="Does patient X have HIV?\n")
    assert without.returncode == 1 and "without the audit verification key" in without.stdout
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"Strongroom audit verification key\n\n{key}\n\nFingerprint: x\n")
    found = strongroom("audit", "asked", "-", "--key-file", str(key_file), "--json", home=home,
                       stdin="Does patient X have HIV?\n")
    assert found.returncode == 0 and json.loads(found.stdout)["entries"][0]["event"] == fmt.STARTED
    other = strongroom("audit", "asked", "Another question", "--key-file", str(key_file), home=home)
    assert other.returncode == 1 and "No entry records this prompt." in other.stdout
