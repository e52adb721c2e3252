"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, to test the real client offline.

`StandInHub` serves model repos made of real bytes to the unmodified `huggingface_hub` client
(checked against 2.4.0), and can be told to lie in the two ways an importer must catch:
`corrupt_files` serves altered bytes under honest metadata, `wrong_metadata` serves honest bytes
under altered metadata.

    with StandInHub() as hub:
        commit = hub.add_repo("org/model", {"model.gguf": Path("big.gguf"), "README.md": b"hi"})
        subprocess.run([sys.executable, "-c", CLIENT_CODE], env=hub.client_env(tmp / "hf"))

Setting up the client
---------------------
The client reads its settings (``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HUB_DISABLE_TELEMETRY``,
``HF_HUB_DISABLE_XET``, ``HF_HOME``...) once, when ``huggingface_hub`` is imported. The robust
way is a subprocess whose environment comes from `StandInHub.client_env`: it also keeps
``huggingface_hub`` out of the test process, which the app refuses to run after (see
``strongroom.core.offline``), and it drops the app's offline switches, which may already be in
``os.environ`` (``TRANSFORMERS_OFFLINE`` alone also switches the client offline).

Patching ``huggingface_hub.constants`` after import is fragile:

* ``hf_hub_download`` builds its URL from ``HUGGINGFACE_CO_URL_TEMPLATE``, fixed at import, and
  swaps in ``endpoint=`` only when that URL starts with ``constants.ENDPOINT``. So either pass
  ``endpoint=`` everywhere and leave ``ENDPOINT`` alone, or patch ``ENDPOINT`` and the template
  together; patching ``ENDPOINT`` alone sends downloads to huggingface.co.
* With telemetry on, the first request fetches ``{constants.ENDPOINT}/api/agent-harnesses``,
  whatever ``endpoint=`` says; patch ``HF_HUB_DISABLE_TELEMETRY = True`` (and ``HF_HUB_OFFLINE``,
  ``HF_HUB_DISABLE_XET``, ``HF_HUB_CACHE`` as needed; those are read at call time).
* Every download creates a tqdm bar, and tqdm starts its monitor thread even for a disabled bar,
  which then outlives the test: set ``huggingface_hub.utils.tqdm.tqdm.monitor_interval = 0``.

What the client asks for, and what it needs back
------------------------------------------------
* ``HfApi.model_info(repo, revision=REV, files_metadata=True)``:
  ``GET /api/models/{repo}/revision/{REV}?blobs=true`` (``GET /api/models/{repo}`` without a
  revision), REV percent-encoded with ``safe=""`` (``refs%2Fpr%2F1``). JSON with ``id``, ``sha``
  (the commit) and ``siblings``: ``rfilename``, ``size``, ``blobId`` and, for LFS files, ``lfs``
  with ``sha256``, ``size`` and ``pointerSize`` (the client requires all three).
* ``hf_hub_download``: ``HEAD /{repo}/resolve/{rev}/{file}``, read for ``X-Repo-Commit``
  (required), ``X-Linked-Etag`` or else ``ETag`` (required; quotes and ``W/`` are stripped) and
  ``X-Linked-Size`` or else ``Content-Length``; then ``GET`` on the same URL. A HEAD redirected
  to the same origin (or a Hub origin) is followed and the *final* response's headers count; one
  redirected elsewhere (a CDN) stops there. This stand-in never redirects: ``/resolve`` answers
  200 itself. ``Range: bytes=N-`` is sent only to resume a broken GET; it gets a 206 here.
* ``snapshot_download``: ``model_info`` for a branch, then ``GET /api/models/{repo}/tree/{commit}
  ?recursive=true&expand=false`` (entries ``type``, ``path``, ``size``, ``oid`` and ``lfs`` with
  ``oid``, ``size``, ``pointerSize``), then one ``hf_hub_download`` per file. ``get_paths_info``:
  ``POST /api/models/{repo}/paths-info/{rev}`` with a form body ``paths=..&paths=..&expand=..``.
* Errors become typed exceptions only through the ``X-Error-Code`` header: ``RepoNotFound``,
  ``RevisionNotFound``, ``EntryNotFound`` (the status alone is not enough: the client's 401
  fallback only matches ``https://`` URLs). Unknown paths get a plain 404, and are recorded.

The client never checks downloaded bytes against the sha256 or blob id it was given: only the
length must match the announced size (else ``OSError: Consistency check failed``).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK_SIZE = 1 << 20
LAST_MODIFIED = "2024-01-01T00:00:00.000Z"

# The variables that would keep the client from talking to the stand-in, or send it elsewhere.
_CLIENT_VARIABLES_TO_DROP = (
    "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
    "HF_XET_CACHE", "HUGGINGFACE_CO_STAGING", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT",
)


def git_blob_id(content: bytes) -> str:
    """The git object id of a blob: sha1 of ``b"blob <size>\\0" + content``."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The Git LFS pointer file that git stores in place of an LFS file."""
    text = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
    return text.encode()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _wrong(digest: str, algorithm: str) -> str:
    """A well-formed digest that belongs to no content of ours."""
    return hashlib.new(algorithm, b"wrong metadata for " + digest.encode()).hexdigest()


@dataclass(frozen=True)
class _File:
    """One file of a commit: its bytes (in memory or on disk) and its real digests."""

    name: str
    size: int
    blob_id: str  # for an LFS file, the blob id of its pointer file
    sha256: str | None  # LFS files only
    data: bytes | None = None
    path: Path | None = None

    @property
    def is_lfs(self) -> bool:
        return self.sha256 is not None

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        """The real bytes [start, stop), at most CHUNK_SIZE at a time."""
        if self.data is not None:
            for offset in range(start, stop, CHUNK_SIZE):
                yield self.data[offset:min(offset + CHUNK_SIZE, stop)]
            return
        with open(self.path, "rb") as handle:
            handle.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = handle.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise OSError(f"{self.path} shrank while being served")
                remaining -= len(chunk)
                yield chunk


def _make_file(name: str, content: bytes | Path, lfs_threshold: int) -> _File:
    if isinstance(content, Path):
        size = content.stat().st_size
        if size >= lfs_threshold:
            sha256 = _sha256_of(content)
            return _File(name, size, git_blob_id(lfs_pointer(sha256, size)), sha256, path=content)
        content = content.read_bytes()
    if len(content) >= lfs_threshold:
        sha256 = hashlib.sha256(content).hexdigest()
        return _File(name, len(content), git_blob_id(lfs_pointer(sha256, len(content))), sha256,
                     data=content)
    return _File(name, len(content), git_blob_id(content), None, data=content)


@dataclass
class _Repo:
    refs: dict[str, str]  # branch -> commit
    commits: dict[str, dict[str, _File]]  # commit -> files by name


class _NotFound(Exception):
    """A 404 with the Hub's error code, which the client turns into a typed exception."""

    def __init__(self, code: str | None, message: str, commit: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.commit = commit


class StandInHub:
    """A local stand-in for the Hugging Face Hub on 127.0.0.1, serving real bytes."""

    def __init__(self) -> None:
        self.corrupt_files: set[str] = set()
        """``"repo_id/filename"``: served with some bytes flipped (same length), metadata intact."""
        self.wrong_metadata: set[str] = set()
        """``"repo_id/filename"``: sha256 (LFS) or blob id (git), and the etag, are wrong."""
        self.requests: list[tuple[str, str]] = []
        """``(method, path)`` of every request, in order; the path as sent, without the query."""
        self.url = ""
        self._repos: dict[str, _Repo] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- content -------------------------------------------------------------------------

    def add_repo(self, repo_id: str, files: dict[str, bytes | Path], revision: str = "main",
                 lfs_threshold: int = 1024) -> str:
        """Register a model repo (or a new branch of one); returns its 40-hex commit sha.

        Files of ``lfs_threshold`` bytes or more are LFS files, with lfs metadata (sha256, size);
        smaller ones are plain git files, with only a git blob id. A ``Path`` is hashed and then
        served from disk in chunks, never read whole. The commit sha depends only on the content.
        """
        entries = {name: _make_file(name, content, lfs_threshold)
                   for name, content in files.items()}
        listing = sorted((f.name, f.blob_id, f.sha256, f.size) for f in entries.values())
        commit = hashlib.sha1(f"commit {repo_id}\0{json.dumps(listing)}".encode()).hexdigest()
        with self._lock:
            repo = self._repos.setdefault(repo_id, _Repo(refs={}, commits={}))
            repo.refs[revision] = commit
            repo.commits[commit] = entries
        return commit

    def client_env(self, hf_home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment for a client process that talks to this stand-in and nothing else.

        Starts from ``base`` (default ``os.environ``), drops the offline switches, tokens and cache
        overrides, and sets ``HF_ENDPOINT``, ``HF_HOME`` (a private folder: cache, token, agent
        registry), ``HF_HUB_DISABLE_XET``, ``HF_HUB_DISABLE_TELEMETRY`` and
        ``HF_HUB_DISABLE_PROGRESS_BARS``.
        """
        if not self.url:
            raise RuntimeError("start the stand-in hub first")
        env = dict(os.environ if base is None else base)
        for name in _CLIENT_VARIABLES_TO_DROP:
            env.pop(name, None)
        env.update({
            "HF_ENDPOINT": self.url,
            "HF_HOME": str(hf_home),
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        })
        return env

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns the base URL."""
        if self._server is not None:
            raise RuntimeError("the stand-in hub is already running")
        self._server = _Server(self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name="standin-hub")
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, close every connection and wait for every thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the connection threads
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> StandInHub:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what the handler asks -----------------------------------------------------------

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def _resolve(self, repo_id: str, revision: str) -> tuple[str, dict[str, _File]]:
        with self._lock:
            repo = self._repos.get(repo_id)
            if repo is None:
                raise _NotFound("RepoNotFound", f"Repository {repo_id} not found")
            commit = repo.refs.get(revision, revision)
            files = repo.commits.get(commit)
        if files is None:
            raise _NotFound("RevisionNotFound", f"Invalid rev id: {revision}")
        return commit, files

    def _metadata(self, repo_id: str, file: _File) -> tuple[str, str | None]:
        """(blob id, lfs sha256) as announced, i.e. wrong for ``wrong_metadata`` files."""
        if f"{repo_id}/{file.name}" not in self.wrong_metadata:
            return file.blob_id, file.sha256
        if not file.is_lfs:
            return _wrong(file.blob_id, "sha1"), None
        sha256 = _wrong(file.sha256, "sha256")
        return git_blob_id(lfs_pointer(sha256, file.size)), sha256

    def _tree_entry(self, repo_id: str, file: _File) -> dict:
        blob_id, sha256 = self._metadata(repo_id, file)
        entry = {"type": "file", "oid": blob_id, "size": file.size, "path": file.name}
        if sha256 is not None:
            entry["lfs"] = {"oid": sha256, "size": file.size,
                            "pointerSize": len(lfs_pointer(sha256, file.size))}
        return entry

    def _sibling(self, repo_id: str, file: _File) -> dict:
        blob_id, sha256 = self._metadata(repo_id, file)
        sibling = {"rfilename": file.name, "size": file.size, "blobId": blob_id}
        if sha256 is not None:
            sibling["lfs"] = {"sha256": sha256, "size": file.size,
                              "pointerSize": len(lfs_pointer(sha256, file.size))}
        return sibling

    def _served_chunks(self, repo_id: str, file: _File, start: int, stop: int) -> Iterator[bytes]:
        """The bytes [start, stop) as served: for ``corrupt_files``, the byte in the middle and
        the last byte are inverted (the header stays intact, so the file still looks genuine)."""
        flips = ({file.size // 2, file.size - 1} if f"{repo_id}/{file.name}" in self.corrupt_files
                 and file.size else set())
        offset = start
        for chunk in file.chunks(start, stop):
            hits = [at - offset for at in flips if offset <= at < offset + len(chunk)]
            if hits:
                chunk = bytearray(chunk)
                for index in hits:
                    chunk[index] ^= 0xFF
                chunk = bytes(chunk)
            offset += len(chunk)
            yield chunk


def _directory_id(path: str, names: list[str]) -> str:
    """A stable id for a folder (not git's tree id, which nothing here needs)."""
    return hashlib.sha1(f"tree {path}\0{json.dumps(sorted(names))}".encode()).hexdigest()


class _Server(ThreadingHTTPServer):
    """Keeps every open connection, so that stop() can close idle keep-alive ones."""

    daemon_threads = False  # so that server_close() joins them

    def __init__(self, hub: StandInHub):
        self.hub = hub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed by the client
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    server: _Server

    # -- plumbing ------------------------------------------------------------------------

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        self.server.hub._record(self.command, urlsplit(self.path).path)
        return True

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: object) -> None:
        self._send(200, json.dumps(payload).encode())

    def _send_not_found(self, error: _NotFound) -> None:
        headers = {"X-Error-Message": error.message}
        if error.code is not None:
            headers["X-Error-Code"] = error.code
        if error.commit is not None:
            headers["X-Repo-Commit"] = error.commit
        self._send(404, json.dumps({"error": error.message}).encode(), headers=headers)

    def _segments(self) -> tuple[list[str], dict[str, list[str]]]:
        parts = urlsplit(self.path)
        segments = [unquote(segment) for segment in parts.path.split("/")[1:]]
        return segments, parse_qs(parts.query)

    # -- routing -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _not_found(self) -> None:
        self._send_not_found(_NotFound(None, f"Cannot {self.command} {urlsplit(self.path).path}"))

    def _dispatch(self) -> None:
        if "Transfer-Encoding" in self.headers:  # a streamed upload: not for us
            self.close_connection = True
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        segments, query = self._segments()
        try:
            if segments[:2] == ["api", "models"] and self.command in ("GET", "POST"):
                self._api_models(segments[2:], query)
            elif self.command in ("GET", "HEAD") and "resolve" in segments[1:3]:
                self._resolve_file(segments)
            else:
                self._not_found()
        except _NotFound as error:
            self._send_not_found(error)
        except ConnectionError:  # the client went away, or stop() closed the connection
            self.close_connection = True

    def _api_models(self, rest: list[str], query: dict[str, list[str]]) -> None:
        """/api/models/{repo}[/revision/{rev} | /tree/{rev}[/{path}] | /paths-info/{rev}]"""
        hub = self.server.hub
        actions = ("revision", "tree", "paths-info")
        repo_length = 2 if len(rest) >= 2 and rest[1] not in actions else 1
        repo_id, action = "/".join(rest[:repo_length]), rest[repo_length:]
        if not repo_id:
            return self._not_found()
        if not action and self.command == "GET":
            return self._model_info(repo_id, "main", query)
        if len(action) < 2:
            return self._not_found()
        kind, revision, path = action[0], action[1], "/".join(action[2:])
        if kind == "revision" and not path and self.command == "GET":
            return self._model_info(repo_id, revision, query)
        if kind == "tree" and self.command == "GET":
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            return self._send_json(self._tree(repo_id, revision, path, recursive))
        if kind == "paths-info" and not path and self.command == "POST":
            commit, _ = hub._resolve(repo_id, revision)
            wanted = self._posted_paths()
            listing = self._tree(repo_id, commit, "", recursive=True)
            return self._send_json([entry for entry in listing if entry["path"] in wanted])
        return self._not_found()

    # -- endpoints -----------------------------------------------------------------------

    def _model_info(self, repo_id: str, revision: str, query: dict[str, list[str]]) -> None:
        hub = self.server.hub
        commit, files = hub._resolve(repo_id, revision)
        with_blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = [hub._sibling(repo_id, f) if with_blobs else {"rfilename": f.name}
                    for f in sorted(files.values(), key=lambda f: f.name)]
        self._send_json({
            "id": repo_id, "modelId": repo_id,
            "author": repo_id.split("/")[0] if "/" in repo_id else None,
            "sha": commit, "lastModified": LAST_MODIFIED, "createdAt": LAST_MODIFIED,
            "private": False, "disabled": False, "gated": False,
            "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        })

    def _tree(self, repo_id: str, revision: str, path: str, recursive: bool) -> list[dict]:
        """Files and folders under ``path`` (directly, or at any depth), folders first."""
        hub = self.server.hub
        _, files = hub._resolve(repo_id, revision)
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        if prefix and not any(name.startswith(prefix) for name in files):
            raise _NotFound("EntryNotFound", f"{path} does not exist in {repo_id}")
        folders: dict[str, list[str]] = {}
        entries: list[dict] = []
        for name in sorted(files):
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix):].split("/")
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folders.setdefault(prefix + "/".join(parts[:depth]), []).append(name)
            if recursive or len(parts) == 1:
                entries.append(hub._tree_entry(repo_id, files[name]))
        listed = [{"type": "directory", "oid": _directory_id(folder, names), "size": 0,
                   "path": folder} for folder, names in sorted(folders.items())]
        return listed + entries

    def _posted_paths(self) -> set[str]:
        body = self.body.decode()
        if "json" in (self.headers.get("Content-Type") or ""):
            paths = json.loads(body or "{}").get("paths", [])
        else:
            paths = parse_qs(body).get("paths", [])
        return {path.strip("/") for path in ([paths] if isinstance(paths, str) else paths)}

    def _resolve_file(self, segments: list[str]) -> None:
        """HEAD/GET /{repo}/resolve/{rev}/{file}, with single byte ranges."""
        hub = self.server.hub
        at = 2 if segments[2:3] == ["resolve"] else 1
        repo_id, rest = "/".join(segments[:at]), segments[at + 1:]
        if len(rest) < 2:
            return self._not_found()
        revision, filename = rest[0], "/".join(rest[1:])
        commit, files = hub._resolve(repo_id, revision)
        file = files.get(filename)
        if file is None:
            raise _NotFound("EntryNotFound", f"{filename} does not exist at {revision}", commit)

        blob_id, sha256 = hub._metadata(repo_id, file)
        etag = f'"{sha256 or blob_id}"'
        headers = {"X-Repo-Commit": commit, "ETag": etag, "Accept-Ranges": "bytes"}
        if sha256 is not None:
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(file.size)})

        start, stop, status = 0, file.size, 200
        requested = self.headers.get("Range")
        if requested:
            byte_range = _parse_range(requested, file.size)
            if byte_range is None:
                headers["Content-Range"] = f"bytes */{file.size}"
                return self._send(416, b"", headers=headers)
            start, stop, status = *byte_range, 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{file.size}"

        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(stop - start))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "GET":
            for chunk in hub._served_chunks(repo_id, file, start, stop):
                self.wfile.write(chunk)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` as [start, stop); None if unsatisfiable."""
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec:
        return None
    try:
        if not first:
            start, stop = max(size - int(last), 0), size
        else:
            start, stop = int(first), min(int(last) + 1, size) if last else size
    except ValueError:
        return None
    return (start, stop) if start < stop else None
