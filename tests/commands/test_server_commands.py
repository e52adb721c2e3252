"""`strongroom server add/list/remove/test`, `strongroom chat --server` and `strongroom serve`
as real subprocesses against a real `strongroom serve` (llama.cpp's server, TLS, API key):
on loopback, and in a network namespace of their own where the strace of a chat shows
connections to the configured server and to nothing else."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import replicate_tree
from tests.helpers import REPO, tls
from tests.helpers.audit_logs import entries_of
from tests.helpers.cli import strongroom
from tests.helpers.serving import Served, free_port, start_serve
from tests.helpers.tls import Issued, make_ca

MODEL = "SmolLM2-135M-Instruct"
API_KEY = "cli-test-api-key-7f3a9c01d2e4b5a6"
SHORT = ("--max-tokens", "24", "--temperature", "0", "--seed", "1")


@dataclass
class Firm:
    """The firm's side: its home (with the demo model in its store), its CA, its server's
    certificate and the running `strongroom serve`."""

    home: Path
    ca: tls.TestCA
    issued: Issued
    served: Served

    @property
    def url(self) -> str:
        return self.served.url


def firm_home(root: Path, template: Path) -> Path:
    """A firm server's STRONGROOM_HOME whose store holds the demo model (hard links to the
    session's read-only copy)."""
    replicate_tree(template, root / "data" / "store")
    return root


def audit_log_of(home_root: Path) -> Path:
    return home_root / "data" / "audit" / "audit.log"


def stored_gguf(home_root: Path) -> Path:
    from strongroom.core.store.model_store import ModelStore

    return ModelStore(home_root / "data" / "store").versions()[0].gguf_files()[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def nothing_listens(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        return probe.connect_ex((host, port)) != 0


@pytest.fixture(scope="module")
def firm(tmp_path_factory, demo_store_template) -> Firm:
    work = tmp_path_factory.mktemp("firm")
    home = firm_home(work / "home", demo_store_template)
    ca = make_ca(work / "ca")
    issued = ca.issue(work / "tls", hosts=("127.0.0.1",))
    key_file = work / "api-key"
    key_file.write_text(API_KEY + "\n")
    served = start_serve(home, MODEL, "127.0.0.1", free_port(), issued.cert, issued.key, key_file)
    try:
        yield Firm(home, ca, issued, served)
    finally:
        served.stop()


def keyring_of(home) -> dict:
    """The test keyring's entries (tests/helpers/memory_keyring.py): the secret store of the
    `strongroom` subprocesses run on ``home``."""
    path = home.data_dir.parent / "test-keyring.json"
    return json.loads(path.read_text()) if path.exists() else {}


def servers_listed(home) -> list[dict]:
    result = strongroom("server", "list", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def add_firm(home, firm: Firm, *trust: str) -> subprocess.CompletedProcess:
    result = strongroom("server", "add", "firm", firm.url, *(trust or ("--ca", str(firm.ca.pem))),
                        "--api-key-stdin", "--timeout", "60", home=home, stdin=API_KEY + "\n")
    assert result.returncode == 0, result.stderr
    return result


def server_entries(home) -> list[dict]:
    return [e for e in entries_of(home.audit_log) if e["event"] == "inference_server"]


# -- server add / list / test / remove ---------------------------------------------------


@pytest.mark.model
def test_a_server_is_added_listed_tested_and_removed_through_the_cli(home, firm):
    added = add_firm(home, firm)
    assert added.stdout.startswith(f"Added firm: {firm.url}, trusting certificates signed by "
                                   "the firm's CA (CN=Firm Test CA)")

    listing = strongroom("server", "list", "--json", home=home)
    assert listing.returncode == 0, listing.stderr
    [entry] = json.loads(listing.stdout)
    assert entry["name"] == "firm" and entry["url"] == firm.url
    assert entry["trust"] == "ca" and entry["pin"] is None
    assert entry["api_key"] is True and entry["timeout_s"] == 60.0
    words = strongroom("server", "list", home=home)
    assert "firm  " + firm.url in words.stdout and "; an API key;" in words.stdout
    for shown in (listing, words, added):
        assert API_KEY not in shown.stdout + shown.stderr

    secrets = keyring_of(home)
    assert secrets["strongroom/inference-server-key-firm"] == API_KEY  # kept, as a secret
    assert API_KEY not in secrets["strongroom/inference-servers"]  # not in the list's record
    assert json.loads(secrets["strongroom/inference-servers"])[0]["name"] == "firm"

    tested = strongroom("server", "test", "firm", "--json", home=home)
    assert tested.returncode == 0, tested.stderr
    report = json.loads(tested.stdout)
    assert report["certificate"]["sha256"] == firm.issued.fingerprint
    assert report["certificate"]["issuer"] == "CN=Firm Test CA"
    assert report["models"] == [MODEL]
    assert isinstance(report["round_trip_ms"], float) and 0 < report["round_trip_ms"] < 60_000
    assert report["test_answer"]["model"] == MODEL and report["test_answer"]["tokens"] > 0
    in_words = strongroom("server", "test", "firm", home=home)
    assert f"SHA-256 fingerprint: {firm.issued.fingerprint}" in in_words.stdout

    removed = strongroom("server", "remove", "firm", home=home)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f"Removed firm ({firm.url})")
    assert servers_listed(home) == []
    assert "strongroom/inference-server-key-firm" not in keyring_of(home)  # the key is gone
    gone = strongroom("server", "test", "firm", home=home)
    assert gone.returncode != 0 and "There is no inference server called 'firm'" in gone.stderr

    recorded = server_entries(home)
    assert [e["details"]["action"] for e in recorded] == ["added", "tested", "tested",
                                                          "removed"]
    assert recorded[1]["details"]["certificate_sha256"] == firm.issued.fingerprint
    assert recorded[1]["details"]["test_answer"]["completion_tokens"] > 0
    assert all(e["details"]["name"] == "firm" and e["details"]["url"] == firm.url
               for e in recorded)
    assert recorded[0]["details"]["api_key"] is True and recorded[0]["details"]["trust"]
    assert API_KEY not in json.dumps(recorded)
    assert API_KEY.encode() not in home.audit_log.read_bytes()
    # Nowhere on the workstation but the secret store: not the app log, not the database.
    for path in home.data_dir.parent.rglob("*"):
        if path.is_file() and path.name != "test-keyring.json":
            assert API_KEY.encode() not in path.read_bytes(), path


def test_list_json_gives_the_ca_subjects(home, tmp_path):
    ca = make_ca(tmp_path / "ca")
    added = strongroom("server", "add", "firm", "https://127.0.0.1:8443", "--ca", str(ca.pem),
                       home=home)
    assert added.returncode == 0, added.stderr
    [entry] = servers_listed(home)
    assert entry["trust"] == "ca"
    assert entry["ca_subjects"] == "CN=Firm Test CA"


PIN = "ab" * 32


def _not_pem(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-ca.pem"
    path.write_text("This is the firm's CA, honest.\n")
    return path


def _a_ca(tmp_path: Path) -> Path:
    return make_ca(tmp_path / "other-ca").pem


BAD_ADDITIONS = {
    # case: (arguments after `server add`, given the test's folder; exit code; message)
    "plain http": (lambda t: ["other", "http://127.0.0.1:8080", "--pin", PIN], 1,
                   "only HTTPS addresses are accepted"),
    "both trusts": (lambda t: ["other", "https://127.0.0.1:8080", "--ca", str(_a_ca(t)),
                               "--pin", PIN], 2, "--ca FILE (the firm's CA) or --pin SHA256"),
    "no trust": (lambda t: ["other", "https://127.0.0.1:8080"], 2,
                 "--ca FILE (the firm's CA) or --pin SHA256"),
    "short pin": (lambda t: ["other", "https://127.0.0.1:8080", "--pin", PIN[:-2]], 1,
                  "is not a SHA-256 certificate fingerprint: it must be 64 hexadecimal digits"),
    "CA not PEM": (lambda t: ["other", "https://127.0.0.1:8080", "--ca", str(_not_pem(t))], 1,
                   "holds no PEM certificate"),
    "duplicate name": (lambda t: ["firm", "https://127.0.0.1:8080", "--pin", PIN], 1,
                       "A server called 'firm' is already configured"),
    "bad name": (lambda t: ["firm gpu!", "https://127.0.0.1:8080", "--pin", PIN], 1,
                 "'firm gpu!' cannot name a server"),
    "timeout out of range": (lambda t: ["other", "https://127.0.0.1:8080", "--pin", PIN,
                                        "--timeout", "0.5"], 1,
                             "The timeout must be between 1 and 3,600 seconds"),
}


@pytest.mark.parametrize("case", BAD_ADDITIONS)
def test_a_bad_addition_is_refused_in_words_and_changes_nothing(home, tmp_path, case):
    first = strongroom("server", "add", "firm", "https://127.0.0.1:8443", "--pin", "cd" * 32,
                       "--api-key-stdin", home=home, stdin=API_KEY + "\n")
    assert first.returncode == 0, first.stderr
    listed, secrets, log = servers_listed(home), keyring_of(home), home.audit_log.read_bytes()
    arguments, code, message = BAD_ADDITIONS[case]

    refused = strongroom("server", "add", *arguments(tmp_path), "--api-key-stdin", home=home,
                         stdin="another-key-0123456789\n")

    assert refused.returncode == code, refused.stdout + refused.stderr
    assert message in refused.stderr
    assert refused.stdout == ""
    assert servers_listed(home) == listed
    assert keyring_of(home) == secrets  # the list and the first server's key as they were
    assert home.audit_log.read_bytes() == log  # nothing recorded: nothing was added


def test_an_api_key_with_a_space_is_refused_and_changes_nothing(home):
    first = strongroom("server", "add", "firm", "https://127.0.0.1:8443", "--pin", PIN,
                       "--api-key-stdin", home=home, stdin=API_KEY + "\n")
    assert first.returncode == 0, first.stderr
    listed, secrets = servers_listed(home), keyring_of(home)

    refused = strongroom("server", "add", "other", "https://127.0.0.1:8444", "--pin", PIN,
                         "--api-key-stdin", home=home, stdin="two words\n")

    assert refused.returncode == 1
    assert "The API key must be one line of printable characters without spaces" in refused.stderr
    assert "two words" not in refused.stderr
    assert servers_listed(home) == listed and keyring_of(home) == secrets


@pytest.mark.model
def test_a_pin_written_with_colons_in_capitals_is_the_same_pin(home, firm):
    written = ":".join(firm.issued.fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    add_firm(home, firm, "--pin", written)
    [entry] = servers_listed(home)
    assert entry["trust"] == "pin" and entry["pin"] == firm.issued.fingerprint
    tested = strongroom("server", "test", "firm", "--json", home=home)
    assert tested.returncode == 0, tested.stderr
    assert json.loads(tested.stdout)["certificate"]["sha256"] == firm.issued.fingerprint


UNTRUSTED = {
    # case: (how the workstation trusts the server, the API key it sends, the message)
    "another pin": (lambda firm, t: ["--pin", "ef" * 32], API_KEY,
                    "showed a certificate that is not the one pinned for firm"),
    "another CA": (lambda firm, t: ["--ca", str(make_ca(t / "rogue", "Rogue CA").pem)], API_KEY,
                   "the firm's CA configured for firm did not sign"),
    "wrong API key": (lambda firm, t: ["--ca", str(firm.ca.pem)], "not-the-key-0123456789",
                      "refused the API key"),
}


@pytest.mark.model
@pytest.mark.parametrize("case", UNTRUSTED)
def test_a_server_not_trusted_as_configured_gets_no_prompt(home, firm, tmp_path, case):
    trust, key, message = UNTRUSTED[case]
    added = strongroom("server", "add", "firm", firm.url, *trust(firm, tmp_path),
                       "--api-key-stdin", home=home, stdin=key + "\n")
    assert added.returncode == 0, added.stderr

    tested = strongroom("server", "test", "firm", home=home)
    chat = strongroom("chat", "--server", "firm", *SHORT, "Say hello.", home=home)

    for refused in (tested, chat):
        assert refused.returncode == 1, refused.stdout
        assert message in refused.stderr
        assert key not in refused.stdout + refused.stderr
    assert chat.stdout == ""
    assert not [e for e in entries_of(home.audit_log)
                if e["event"] in ("inference_started", "inference")]
    failed = [e["details"] for e in entries_of(home.audit_log) if e["event"] == "inference_server"
              and e["details"]["action"] == "attempt failed"]
    assert [(f["name"], f["url"], f["during"]) for f in failed] == [
        ("firm", firm.url, "test"), ("firm", firm.url, "chat")]
    assert all(message in f["reason"] and key not in f["reason"] for f in failed)


@pytest.mark.model
def test_a_server_that_cannot_be_reached_is_an_audit_entry(home):
    added = strongroom("server", "add", "gone", "https://127.0.0.1:9", "--pin", "0" * 64,
                       home=home)
    assert added.returncode == 0, added.stderr
    chat = strongroom("chat", "--server", "gone", *SHORT, "Say hello.", home=home)
    assert chat.returncode == 1 and "cannot be reached" in chat.stderr
    [failed] = [e["details"] for e in entries_of(home.audit_log) if e["event"] == "inference_server"
                and e["details"]["action"] == "attempt failed"]
    assert failed["name"] == "gone" and "cannot be reached" in failed["reason"]


# -- chat --server -----------------------------------------------------------------------


@pytest.mark.model
def test_chat_answers_from_the_server_and_the_audit_log_names_the_server(home, firm):
    add_firm(home, firm)

    streamed = strongroom("chat", "--server", "firm", *SHORT, "Say hello.", home=home)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.strip()

    as_json = strongroom("chat", "--server", "firm", "--json", *SHORT, "Name a colour.", home=home)
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["answer"].strip()
    stats = result["stats"]
    assert stats["server_certificate"] == firm.issued.fingerprint
    assert 0 < stats["completion_tokens"] <= 24 and stats["finish_reason"] in ("stop", "length")
    assert stats["incomplete"] is None and stats["total_s"] > 0

    entries = [e for e in entries_of(home.audit_log)
               if e["event"] in ("inference_started", "inference")]
    assert [e["event"] for e in entries] == ["inference_started", "inference"] * 2
    for entry in entries:
        server = entry["details"]["server"]
        assert server["name"] == "firm" and server["url"] == firm.url
        assert server["certificate_sha256"] == firm.issued.fingerprint
        assert entry["model_id"] == MODEL
    assert all(e["details"]["model_id"] == MODEL for e in entries[0::2])
    assert all(e["details"]["outcome"] == "answered" for e in entries[1::2])
    assert all(e["details"]["server"]["model_reported"] for e in entries[1::2])
    for path in home.data_dir.parent.rglob("*"):  # the key is in the secret store alone
        if path.is_file() and path.name != "test-keyring.json":
            assert API_KEY.encode() not in path.read_bytes(), path


# -- strongroom serve --------------------------------------------------------------------


def model_serve_entries(home_root: Path) -> list[dict]:
    log = audit_log_of(home_root)
    return [e for e in entries_of(log) if e["event"] == "model_serve"] if log.exists() else []


@pytest.mark.model
def test_serve_records_its_start_and_its_stop_by_sigterm(tmp_path, demo_store_template):
    home = firm_home(tmp_path / "firm", demo_store_template)
    issued = make_ca(tmp_path / "ca").issue(tmp_path / "tls", hosts=("127.0.0.1",))
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY + "\n")
    port = free_port()
    served = start_serve(home, MODEL, "127.0.0.1", port, issued.cert, issued.key, key_file)
    try:
        child = served.child_pid
        assert served.lines[0].startswith(f"Serving {MODEL} (sha256 ")
        assert served.lines[0].rstrip().endswith(f"at https://127.0.0.1:{port}")
        assert served.lines[1].rstrip().endswith(f": {issued.fingerprint}")
        assert not nothing_listens("127.0.0.1", port)
    finally:
        code = served.stop(signal.SIGTERM)
    assert code == 0
    assert not Path(f"/proc/{child}").exists()  # the llama.cpp server went with it
    assert nothing_listens("127.0.0.1", port)

    start, stop = model_serve_entries(home)
    expected_sha256 = sha256_of(stored_gguf(home))
    assert start["details"]["action"] == "start"
    assert start["details"]["model"] == MODEL
    assert start["details"]["model_sha256"] == expected_sha256
    assert start["details"]["listen"] == f"127.0.0.1:{port}"
    assert start["details"]["certificate_sha256"] == issued.fingerprint
    assert stop["details"]["action"] == "stop"
    assert stop["details"]["reason"] == "stopped by SIGTERM"
    assert stop["details"]["model_sha256"] == expected_sha256
    for path in home.rglob("*"):  # the API key was read from its file, and kept nowhere
        if path.is_file() and not path.is_relative_to(home / "data" / "store"):
            assert API_KEY.encode() not in path.read_bytes(), path


@pytest.mark.model
def test_serve_takes_a_certificate_file_with_text_before_its_pem_block(tmp_path,
                                                                       demo_store_template):
    home = firm_home(tmp_path / "firm", demo_store_template)
    issued = make_ca(tmp_path / "ca").issue(tmp_path / "tls", hosts=("127.0.0.1",))
    described = tmp_path / "described.pem"  # as `openssl x509 -subject` or a PKCS#12 export writes it
    described.write_text("subject=CN = 127.0.0.1\n" + issued.cert.read_text())
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY + "\n")
    served = start_serve(home, MODEL, "127.0.0.1", free_port(), described, issued.key, key_file,
                         timeout=60)
    try:
        assert served.lines[1].rstrip().endswith(f": {issued.fingerprint}")
    finally:
        assert served.stop() == 0


def serve_once(home_root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`strongroom serve ARGS` expected to end by itself (a refusal). Run in a session of its
    own, so that if it serves after all, the server and its child are killed at the timeout."""
    return run_in_own_session([sys.executable, "-m", "strongroom", "serve", *args],
                              {**os.environ, "STRONGROOM_HOME": str(home_root)}, timeout,
                              "strongroom serve did not refuse")


def run_in_own_session(command: list[str], env: dict, timeout: float,
                       late: str) -> subprocess.CompletedProcess:
    """Run ``command`` in a session of its own; at the timeout, it and everything it
    started are killed and the test fails with ``late`` and what it printed."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"{late} within {timeout} s: {out[-2000:]}{err[-3000:]}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _change_a_byte(home_root: Path) -> None:
    """The stored model's last byte changed after the import. The stored file is a hard link
    to the session's read-only template: it is replaced by a changed copy, never written."""
    path = stored_gguf(home_root)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    folder_mode = path.parent.stat().st_mode & 0o777
    path.parent.chmod(folder_mode | 0o700)
    try:
        path.unlink()
        path.write_bytes(bytes(data))
        path.chmod(0o444)
    finally:
        path.parent.chmod(folder_mode)


REFUSALS = {
    # case: (what to do to the firm's home / arguments, the message)
    "model not in the store": ("unknown", "there is no model called 'llama-70b' in the store"),
    "certificate and key apart": ("mismatch", "cannot be used together"),
    "stored file changed": ("changed", "is not the file that was imported"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_serve_refuses_before_anything_listens(tmp_path, demo_store_template, case):
    what, message = REFUSALS[case]
    home = firm_home(tmp_path / "firm", demo_store_template)
    ca = make_ca(tmp_path / "ca")
    issued = ca.issue(tmp_path / "tls", hosts=("127.0.0.1",))
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY + "\n")
    model, cert, key = MODEL, issued.cert, issued.key
    if what == "unknown":
        model = "llama-70b"
    elif what == "mismatch":
        key = ca.issue(tmp_path / "other-tls", hosts=("127.0.0.1",)).key
    else:
        template_sha256 = sha256_of(stored_gguf(home))
        _change_a_byte(home)
    port = free_port()

    refused = serve_once(home, "--model", model, "--listen", f"127.0.0.1:{port}", "--cert",
                         str(cert), "--key", str(key), "--api-key-file", str(key_file),
                         "--context-length", "1024")

    assert refused.returncode != 0
    assert message in refused.stderr, refused.stderr
    assert "Serving" not in refused.stdout
    assert nothing_listens("127.0.0.1", port)
    assert [e for e in model_serve_entries(home) if e["details"]["action"] == "start"] == []
    if what == "changed":  # the session's template was not touched
        template_file = next(demo_store_template.rglob(stored_gguf(home).name))
        assert sha256_of(template_file) == template_sha256
        assert sha256_of(stored_gguf(home)) != template_sha256


# -- the "done when": a network namespace, strace, and the egress guard -------------------

# strace's rendering of a socket address: the family, then the rest up to the closing brace.
_TRACED = re.compile(r"^(?:\d+\s+)?(connect|sendto|sendmsg)\((\d+), (.*)$")
_SOCKADDR = re.compile(r"\{sa_family=(AF_\w+)(.*?)\}")
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_IP = re.compile(r'inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"')


def destinations(trace: str) -> list[tuple[str, str, str]]:
    """Every (call, family, destination) in an strace log of connect, sendto and sendmsg;
    sends with no address (to the connected peer) are left out. A call whose address cannot
    be read is listed as such, so that it is never silently passed."""
    found = []
    for line in trace.splitlines():
        call = _TRACED.match(line)
        if call is None:
            continue
        name, _fd, rest = call.groups()
        address = _SOCKADDR.search(rest)
        if address is None:
            if name != "connect" and ("NULL, 0" in rest or "msg_name=NULL" in rest):
                continue
            found.append((name, "unreadable", line))
            continue
        family, details = address.groups()
        if family in ("AF_INET", "AF_INET6"):
            ip, port = _IP.search(details), _PORT.search(details)
            where = f"{ip.group(1) if ip else '?'}:{port.group(1) if port else '?'}"
        else:
            where = details.lstrip(", ")
        found.append((name, family, where))
    return found


def not_allowed(found: list[tuple[str, str, str]], allowed: set[str]) -> list[tuple]:
    """What is neither on this machine (a Unix socket, loopback) nor in ``allowed``."""
    wrong = []
    for call, family, where in found:
        if family == "AF_UNIX" or (family == "AF_NETLINK" and call != "connect"):
            continue
        if family in ("AF_INET", "AF_INET6"):
            host = where.rsplit(":", 1)[0]
            if host in ("::1", "::ffff:127.0.0.1") or host.startswith("127.") or where in allowed:
                continue
        wrong.append((call, family, where))
    return wrong


def test_the_trace_reader_sees_what_is_not_allowed():
    trace = "\n".join([
        '10 connect(4, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
        '10 connect(8, {sa_family=AF_INET, sin_port=htons(8443), '
        'sin_addr=inet_addr("10.77.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)',
        '10 connect(9, {sa_family=AF_INET, sin_port=htons(8444), '
        'sin_addr=inet_addr("10.77.0.1")}, 16 <unfinished ...>',
        '11 connect(5, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
        '11 sendto(6, "\\1\\2", 2, 0, {sa_family=AF_INET, sin_port=htons(53), '
        'sin_addr=inet_addr("192.0.2.1")}, 16) = 2',
        '11 sendto(6, "\\1\\2", 2, MSG_NOSIGNAL, NULL, 0) = 2',
        '11 connect(7, {sa_family=AF_INET, sin_port=htons(5000), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
    ])
    assert not_allowed(destinations(trace), {"10.77.0.1:8443"}) == [
        ("connect", "AF_INET", "10.77.0.1:8444"), ("connect", "AF_INET6", "2001:db8::1:53"),
        ("sendto", "AF_INET", "192.0.2.1:53")]


def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.model
def test_in_a_network_namespace_a_chat_reaches_only_the_configured_server(
        tmp_path, demo_store_template):
    if not _namespaces_work():
        pytest.skip("`unshare -rn true` fails here: this machine allows no user and network "
                    "namespace, so the isolated network cannot be built")
    if shutil.which("strace") is None or shutil.which("ip") is None:
        pytest.fail("strace and ip are needed for this test; scripts/run_tests.sh installs strace")
    work = tmp_path / "netns"
    work.mkdir()
    driver = run_in_own_session(  # killing its session at the timeout ends the servers inside
        ["unshare", "-rn", sys.executable, "-m", "tests.helpers.netns_driver", str(work),
         str(demo_store_template)], dict(os.environ), 300, "the namespace driver did not finish")
    out, err = driver.stdout, driver.stderr
    assert driver.returncode == 0, out[-3000:] + err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    port, other = summary["port"], summary["other_port"]
    devices = sorted(line.split()[0] for line in summary["addresses"] if line.strip())
    assert devices == ["d0", "lo"]  # loopback and the one stand-alone device

    assert summary["chat_code"] == 0, summary["chat_stderr"]
    assert summary["chat_stdout"].strip()

    found = destinations(Path(summary["trace"]).read_text())
    assert ("connect", "AF_INET", f"10.77.0.1:{port}") in found
    assert not_allowed(found, {f"10.77.0.1:{port}"}) == []
    sent = [f for f in found if f[0] != "connect"]
    assert not_allowed(sent, set()) == []  # no datagram or message to an address off this machine

    guard = summary["guard"]
    assert guard is not None, summary["guard_stderr"]
    assert guard["allowed_servers"] == [["10.77.0.1", port]]
    assert guard["configured_port"] == "connected"
    assert guard["other_port"].startswith("PermissionError: Strongroom works offline")
    assert guard["other_port_lookup"].startswith("PermissionError: Strongroom works offline")
    assert guard["other_port_unguarded"] == "connected"  # it was there: the guard stopped it
    assert ["socket.connect", f"10.77.0.1:{other}"] in guard["blocked"]
    assert all(destination.endswith(f":{other}") for _, destination in guard["blocked"])
    assert summary["serve_codes"] == [0, 0]
