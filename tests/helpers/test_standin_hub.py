"""The stand-in Hub against the real `huggingface_hub` client, which runs in a subprocess.

The client reads its settings when it is imported, and the app refuses to start once it has been
imported, so it never runs inside the test process (see tests/standin_hub.py).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import socket
import subprocess
import sys
import time

import pytest

from tests.helpers.standin_hub import StandInHub

REPO_ID = "org/model"
MODEL = "model.gguf"
README = "README.md"

# Runs the operations given as JSON in argv[1] and prints one JSON result per operation:
#   ["info", repo, revision] -> {"sha", "siblings": [{rfilename, size, blob_id, lfs}]}
#   ["download", repo, filename, revision, local_dir] -> {"path"}
# A Hub error becomes {"error": "<exception class name>"}.
CLIENT = r"""
import json, os, sys
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

endpoint = os.environ["HF_ENDPOINT"]
api = HfApi(endpoint=endpoint)

def info(repo_id, revision):
    model = api.model_info(repo_id, revision=revision, files_metadata=True)
    siblings = [{"rfilename": s.rfilename, "size": s.size, "blob_id": s.blob_id,
                 "lfs": None if s.lfs is None else {"sha256": s.lfs.sha256, "size": s.lfs.size}}
                for s in model.siblings]
    return {"sha": model.sha, "siblings": siblings}

def download(repo_id, filename, revision, local_dir):
    return {"path": hf_hub_download(repo_id, filename, revision=revision, local_dir=local_dir,
                                    endpoint=endpoint)}

results = []
for name, *args in json.loads(sys.argv[1]):
    try:
        results.append({"info": info, "download": download}[name](*args))
    except HfHubHTTPError as error:
        results.append({"error": type(error).__name__})
print(json.dumps(results))
"""


def run_client(hub: StandInHub, tmp_path, *operations: list, env: dict | None = None) -> list[dict]:
    env = env or hub.client_env(tmp_path / "hf-home")
    result = subprocess.run([sys.executable, "-c", CLIENT, json.dumps(operations)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def git_blob(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return random.Random(7).randbytes(3 * 1024 * 1024)


@pytest.fixture
def hub():
    with StandInHub() as hub:
        yield hub


@pytest.fixture
def repo(hub, tmp_path, model_bytes):
    """REPO_ID with a 3 MB LFS file served from disk and a small git file; returns the commit."""
    model = tmp_path / "source.gguf"
    model.write_bytes(model_bytes)
    return hub.add_repo(REPO_ID, {MODEL: model, README: b"hello\n"})


def download_both(hub, tmp_path, commit) -> tuple[bytes, bytes, dict]:
    """(model bytes, readme bytes, model info) as the client sees them."""
    local = tmp_path / "local"
    info, model, readme = run_client(hub, tmp_path, ["info", REPO_ID, commit],
                                     ["download", REPO_ID, MODEL, commit, str(local)],
                                     ["download", REPO_ID, README, commit, str(local)])
    assert model["path"] == str(local / MODEL) and readme["path"] == str(local / README)
    siblings = {s["rfilename"]: s for s in info["siblings"]}
    return (local / MODEL).read_bytes(), (local / README).read_bytes(), siblings


def test_model_info_gives_the_commit_and_real_digests(hub, repo, tmp_path, model_bytes):
    by_branch, by_commit = run_client(hub, tmp_path, ["info", REPO_ID, "main"],
                                      ["info", REPO_ID, repo])
    assert re.fullmatch("[0-9a-f]{40}", repo)
    assert by_branch == by_commit and by_branch["sha"] == repo
    siblings = {s["rfilename"]: s for s in by_branch["siblings"]}
    assert siblings[MODEL]["lfs"] == {"sha256": sha256(model_bytes), "size": len(model_bytes)}
    assert siblings[MODEL]["size"] == len(model_bytes)
    pointer = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:%s\nsize %d\n" % (sha256(model_bytes).encode(), len(model_bytes)))
    assert siblings[MODEL]["blob_id"] == git_blob(pointer)
    assert siblings[README] == {"rfilename": README, "size": 6, "lfs": None,  # git hash-object:
                                "blob_id": "ce013625030ba8dba906f756967f9e9ca394464a"}


def test_download_gives_the_exact_bytes(hub, repo, tmp_path, model_bytes):
    model, readme, _ = download_both(hub, tmp_path, repo)
    assert model == model_bytes and readme == b"hello\n"
    for filename in (MODEL, README):
        path = f"/{REPO_ID}/resolve/{repo}/{filename}"
        assert ("HEAD", path) in hub.requests and ("GET", path) in hub.requests


def test_corrupt_files_serve_other_bytes_under_the_real_metadata(hub, repo, tmp_path, model_bytes):
    hub.corrupt_files.update({f"{REPO_ID}/{MODEL}", f"{REPO_ID}/{README}"})
    model, readme, siblings = download_both(hub, tmp_path, repo)  # the client does not notice
    assert len(model) == len(model_bytes) and model != model_bytes
    assert model[:1024] == model_bytes[:1024]  # the header still looks right
    assert siblings[MODEL]["lfs"]["sha256"] == sha256(model_bytes) != sha256(model)
    assert readme != b"hello\n" and siblings[README]["blob_id"] == git_blob(b"hello\n")


def test_wrong_metadata_describes_other_bytes(hub, repo, tmp_path, model_bytes):
    hub.wrong_metadata.update({f"{REPO_ID}/{MODEL}", f"{REPO_ID}/{README}"})
    model, readme, siblings = download_both(hub, tmp_path, repo)
    assert model == model_bytes and readme == b"hello\n"
    claimed = siblings[MODEL]["lfs"]["sha256"]
    assert len(claimed) == 64 and claimed != sha256(model)
    assert siblings[MODEL]["size"] == len(model)
    assert siblings[README]["blob_id"] != git_blob(readme)


def test_unknown_repo_revision_and_file_raise_typed_errors(hub, repo, tmp_path):
    local = str(tmp_path / "local")
    results = run_client(hub, tmp_path, ["info", "org/missing", "main"],
                         ["download", "org/missing", MODEL, "main", local],
                         ["info", REPO_ID, "no-such-branch"],
                         ["download", REPO_ID, MODEL, "0" * 40, local],
                         ["download", REPO_ID, "missing.gguf", repo, local])
    assert [r["error"] for r in results] == [
        "RepositoryNotFoundError", "RepositoryNotFoundError",
        "RevisionNotFoundError", "RevisionNotFoundError", "RemoteEntryNotFoundError"]


def test_no_telemetry_when_it_is_switched_off(hub, repo, tmp_path):
    download_both(hub, tmp_path, repo)
    assert hub.requests
    assert not [path for _, path in hub.requests
                if "agent-harnesses" in path or "telemetry" in path]

    # The control: with telemetry on, the same client does ask, and the 404 is recorded.
    env = hub.client_env(tmp_path / "hf-home-telemetry")
    for name in ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        env.pop(name, None)
    hub.requests.clear()
    run_client(hub, tmp_path, ["info", REPO_ID, "main"], env=env)
    assert hub.requests[0] == ("GET", "/api/agent-harnesses")


def test_ranges_and_unknown_paths(hub, tmp_path):
    content = bytes(range(256)) * 8  # 2 KiB: an LFS file
    commit = hub.add_repo(REPO_ID, {MODEL: content})
    hub.corrupt_files.add(f"{REPO_ID}/{MODEL}")
    connection = http.client.HTTPConnection("127.0.0.1", int(hub.url.rsplit(":", 1)[1]), timeout=10)
    try:
        connection.request("GET", f"/{REPO_ID}/resolve/{commit}/{MODEL}",
                           headers={"Range": "bytes=1000-"})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 206
        assert response.headers["Content-Range"] == "bytes 1000-2047/2048"
        assert body[:24] == content[1000:1024] and body[24] != content[1024]  # the middle byte
        connection.request("GET", f"/{REPO_ID}/resolve/{commit}/{MODEL}",
                           headers={"Range": "bytes=4096-"})
        response = connection.getresponse()
        response.read()
        assert response.status == 416
        connection.request("DELETE", "/api/whatever")
        response = connection.getresponse()
        response.read()
        assert response.status == 404 and "X-Error-Code" not in response.headers
    finally:
        connection.close()
    assert hub.requests[-1] == ("DELETE", "/api/whatever")


def test_stop_closes_idle_connections_and_the_port():
    hub = StandInHub()
    port = int(hub.start().rsplit(":", 1)[1])
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        idle.request("GET", "/api/models/org/none")
        response = idle.getresponse()
        response.read()
        assert response.status == 404 and response.headers["X-Error-Code"] == "RepoNotFound"
        started = time.monotonic()
        hub.stop()  # the kept-alive connection must not hold it up
        assert time.monotonic() - started < 5
    finally:
        idle.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    hub.stop()  # idempotent
