"""Building a transfer drive on the connected machine (`strongroom prepare`).

For each model: its files go to ``DRIVE/models/<name>/`` with ``airgap_manifest.json``
(the reference form plus Strongroom's fields) and ``checksums.sha256``. Files from a hub
repository are checked against the hub's own record before anything is written: the
LFS SHA-256 for large files, the git blob id for small ones; any mismatch stops that model
and no manifest is written for it. Then the drive root gets ``TRANSFER_MANIFEST.sha256``
(every file, relative paths, not itself) and ``TRANSFER_METADATA.txt``.

Work happens in ``DRIVE/.strongroom-partial/`` and each model folder is swapped in with
renames, so running prepare again adds or updates models and never leaves a half-written
one. The root manifests are replaced atomically, last.
"""

from __future__ import annotations

import contextlib
import fnmatch
import getpass
import hashlib
import os
import shutil
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from strongroom import __version__
from strongroom.core.atomic import fsync_path, write_atomic
from strongroom.core.errors import StrongroomError
from strongroom.core.progress import Cancelled, Progress
from strongroom.core.transfer.file_checks import workers
from strongroom.core.transfer.manifests import (
    CHECKSUMS,
    JSON_MANIFEST,
    TRANSFER_MANIFEST,
    TRANSFER_METADATA,
    Entry,
    json_manifest_text,
    path_problem,
    sha256sum_text,
)
from strongroom.core.transfer.safe_files import (
    CHUNK,
    Digest,
    UnsafeFileError,
    copy_and_hash,
    hash_file,
    open_regular_file,
)
from strongroom.core.transfer.signatures import (
    DETACHED_SIGNATURE,
    DRIVE_SIGNATURE,
    SIGNATURE_FILE,
)
from strongroom.core.units import human_size

PARTIAL = ".strongroom-partial"
MODELS = "models"


class PrepareError(StrongroomError):
    """Preparation stopped; the message says what happened and what was left unchanged."""


@dataclass(frozen=True)
class PreparedModel:
    name: str
    folder: Path
    entries: dict[str, Entry]


@dataclass(frozen=True)
class TransferSummary:
    file_count: int
    total_bytes: int
    manifest_sha256: str
    models: list[str]


ProgressCallback = Callable[[Progress], None]


def _partial_dir(drive: Path) -> Path:
    """A fresh work folder on the drive; leftovers of an interrupted run are removed first
    (run one prepare at a time per drive)."""
    if (drive / PARTIAL).is_dir():
        for leftover in (drive / PARTIAL).iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
    work = drive / PARTIAL / uuid.uuid4().hex
    work.mkdir(parents=True, mode=0o700)
    return work


def _check_name(name: str) -> str:
    problem = path_problem(name)
    if problem or "/" in name or name.startswith("."):
        raise PrepareError(f"{name!r} cannot be a model name on the drive: "
                           f"{problem or 'use a single plain folder name'}")
    return name


def _install_model(drive: Path, work_model: Path, name: str, entries: dict[str, Entry],
                   model_id: str, revision: str, **extra) -> PreparedModel:
    """Write the manifests into the finished folder and swap it into models/<name>."""
    write_atomic(work_model / JSON_MANIFEST, json_manifest_text(
        model_id, revision, entries, created_at=_now(), **extra).encode("utf-8"), 0o644)
    write_atomic(work_model / CHECKSUMS,
                 sha256sum_text({n: e.sha256 for n, e in entries.items()}).encode("utf-8"), 0o644)
    models = drive / MODELS
    models.mkdir(exist_ok=True)
    final = models / name
    retired = None
    if os.path.lexists(final):
        retired = work_model.parent / f"retired-{name}"
        os.rename(final, retired)
    os.rename(work_model, final)
    fsync_path(models)
    if retired is not None:
        shutil.rmtree(retired)
    return PreparedModel(name, final, entries)


def prepare_local(drive: Path, name: str, sources: list[Path], model_id: str | None = None,
                  on_progress: ProgressCallback | None = None,
                  cancel: threading.Event | None = None) -> PreparedModel:
    """Put model files already on this machine (files, or whole folders) onto the drive."""
    _check_name(name)
    files: dict[str, Path] = {}
    for source in sources:
        if source.is_dir() and not source.is_symlink():
            for path in sorted(source.rglob("*")):
                if path.is_symlink():
                    raise PrepareError(f"{path} is a symbolic link; copy the file itself")
                if path.is_file():
                    files[path.relative_to(source).as_posix()] = path
        elif source.is_file() and not source.is_symlink():
            files[source.name] = source
        else:
            raise PrepareError(f"{source} is not a file or folder that can be copied "
                               "(missing, or a link?)")
    if not files:
        raise PrepareError("There are no files to put on the drive.")
    for relative in files:
        problem = path_problem(relative)
        if problem:
            raise PrepareError(f"{relative!r} cannot go on a drive: {problem}")

    drive.mkdir(parents=True, exist_ok=True)
    work = _partial_dir(drive)
    try:
        work_model = work / name
        progress = Progress(sum(p.stat().st_size for p in files.values()), on_progress, cancel)
        entries = {}
        for relative, path in files.items():
            target = work_model / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd, _ = open_regular_file(path, allow_hard_links=True)
            except (UnsafeFileError, OSError) as error:
                raise PrepareError(f"{path} cannot be read: {error.strerror}") from None
            try:
                sha256, size = copy_and_hash(fd, target, progress, relative)
            finally:
                os.close(fd)
            os.chmod(target, 0o644)
            entries[relative] = Entry(relative, sha256, size)
        progress.finish()
        source = {"kind": "local-files", "paths": [str(p) for p in sources]}
        return _install_model(drive, work_model, name, entries, model_id or name, "local",
                              source=source)
    finally:
        _remove_partial(work)


def git_blob_id(path: Path) -> str:
    """The id git gives a file's content: sha1 of 'blob <size>\\0' and the bytes."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def prepare_from_hub(drive: Path, repo_id: str, revision: str = "main",
                     include: list[str] | None = None, name: str | None = None,
                     endpoint: str | None = None, on_progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None) -> PreparedModel:
    """Download a hub repository's files (those matching ``include``) onto the drive,
    each checked against the hub's own SHA-256 (LFS) or git blob id (small files)."""
    from huggingface_hub import HfApi, hf_hub_download

    name = _check_name(name or repo_id.split("/")[-1])
    api = HfApi(endpoint=endpoint)
    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as error:  # the hub client's errors have many types; all end the run
        raise PrepareError(f"The hub could not describe {repo_id} at {revision!r}: "
                           f"{_first_line(error)}") from None
    commit = info.sha
    siblings = [s for s in (info.siblings or [])
                if not include or any(fnmatch.fnmatch(s.rfilename, p) for p in include)]
    if not siblings:
        raise PrepareError(f"No file of {repo_id} at {revision!r} matches "
                           f"{' '.join(include or ['*'])}.")
    for sibling in siblings:
        problem = path_problem(sibling.rfilename)
        if problem:
            raise PrepareError(f"{repo_id} lists {sibling.rfilename!r}, which cannot go on a "
                               f"drive: {problem}")

    drive.mkdir(parents=True, exist_ok=True)
    work = _partial_dir(drive)
    try:
        downloads = work / "download"
        work_model = work / name
        entries = {}
        total = sum((s.lfs.size if s.lfs else s.size) or 0 for s in siblings)
        progress = Progress(total, on_progress, cancel)
        for sibling in siblings:
            if progress.cancel.is_set():
                raise Cancelled()
            try:
                local = Path(hf_hub_download(repo_id, sibling.rfilename, revision=commit,
                                             local_dir=downloads, endpoint=endpoint))
            except Exception as error:  # as above
                raise PrepareError(f"Downloading {sibling.rfilename} from {repo_id} failed: "
                                   f"{_first_line(error)}; nothing was written for this model.") from None
            target = work_model / sibling.rfilename
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(local, target)
            digest = hash_file(target, progress, sibling.rfilename)
            if sibling.lfs is not None:
                expected, actual, check = sibling.lfs.sha256, digest.sha256, "hub-lfs-sha256"
                expected_size = sibling.lfs.size
            else:
                expected, actual, check = sibling.blob_id, git_blob_id(target), "hub-git-blob-id"
                expected_size = sibling.size
            if expected is None or actual != expected or (expected_size is not None
                                                          and digest.size != expected_size):
                raise PrepareError(
                    f"{repo_id}/{sibling.rfilename}: the downloaded file does not match what the "
                    f"hub records ({check} {expected}, downloaded {actual}, {digest.size:,} bytes). "
                    "The download was damaged or tampered with; nothing was written for this "
                    "model.")
            os.chmod(target, 0o644)
            entries[sibling.rfilename] = Entry(sibling.rfilename, digest.sha256, digest.size, check)
        progress.finish()
        source = {"kind": "hub", "endpoint": api.endpoint, "repo_id": repo_id,
                  "requested_revision": revision, "resolved_commit": commit,
                  "include": include or ["*"]}
        return _install_model(drive, work_model, name, entries, repo_id, revision, source=source)
    finally:
        _remove_partial(work)


def write_transfer_manifest(drive: Path, on_progress: ProgressCallback | None = None,
                            cancel: threading.Event | None = None) -> TransferSummary:
    """Hash every file on the drive into TRANSFER_MANIFEST.sha256; write TRANSFER_METADATA.txt."""
    digests = hash_tree(drive, {TRANSFER_MANIFEST, TRANSFER_METADATA, DRIVE_SIGNATURE, PARTIAL},
                        on_progress, cancel)
    text = sha256sum_text({r: d.sha256 for r, d in digests.items()})
    write_atomic(drive / TRANSFER_MANIFEST, text.encode("utf-8"), 0o644)
    manifest_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    models = sorted(p.name for p in (drive / MODELS).iterdir()) if (drive / MODELS).is_dir() else []
    total = sum(d.size for d in digests.values())
    metadata = (
        f"Transfer date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n"
        f"Prepared by: {getpass.getuser()}@{socket.gethostname()}\n"
        f"Purpose: Air-gapped LLM deployment\n"
        f"Models included: {' '.join(models)}\n"
        f"File count: {len(digests)}\n"
        f"Total size: {human_size(total)} ({total} bytes)\n"
        f"SHA256 of TRANSFER_MANIFEST.sha256: {manifest_sha256}\n"
        f"Prepared with: Strongroom {__version__}\n"
    )
    write_atomic(drive / TRANSFER_METADATA, metadata.encode("utf-8"), 0o644)
    with contextlib.suppress(OSError):
        (drive / PARTIAL).rmdir()  # only if empty: another prepare may be running
    return TransferSummary(len(digests), total, manifest_sha256, models)


def hash_tree(root: Path, skip: set[str], on_progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> dict[str, Digest]:
    """SHA-256 of every file under ``root`` (paths relative to it), in parallel; entries
    named in ``skip`` (relative paths of files or folders) are left out. Links and special
    files are refused: what is carried between machines is plain files."""
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if (Path(folder) / d).relative_to(root).as_posix() not in skip)
        for filename in names:
            path = Path(folder) / filename
            relative = path.relative_to(root).as_posix()
            if relative in skip:
                continue
            if path.is_symlink() or not path.is_file():
                raise PrepareError(f"{path} is not a regular file (a link or device?); only plain "
                                   "files can be carried and verified")
            files.append((relative, path))
    progress = Progress(sum(p.stat().st_size for _, p in files), on_progress, cancel)

    def digest(item):
        relative, path = item
        return relative, hash_file(path, progress, relative, allow_hard_links=True)

    with ThreadPoolExecutor(max_workers=workers()) as pool:
        digests = dict(pool.map(digest, files))
    progress.finish()
    return digests


def write_folder_manifests(folder: Path, model_id: str, revision: str, source: dict,
                           on_progress: ProgressCallback | None = None) -> dict[str, Entry]:
    """Give a folder (an app bundle, a wheelhouse) its own airgap_manifest.json and
    checksums.sha256, so `strongroom verify` and `sha256sum -c` check it after transport."""
    digests = hash_tree(folder, {JSON_MANIFEST, CHECKSUMS, SIGNATURE_FILE, DETACHED_SIGNATURE},
                        on_progress)
    entries = {name: Entry(name, d.sha256, d.size) for name, d in digests.items()}
    write_atomic(folder / JSON_MANIFEST, json_manifest_text(
        model_id, revision, entries, created_at=_now(), source=source).encode("utf-8"), 0o644)
    write_atomic(folder / CHECKSUMS,
                 sha256sum_text({n: e.sha256 for n, e in entries.items()}).encode("utf-8"), 0o644)
    return entries


def _remove_partial(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    with contextlib.suppress(OSError):
        work.parent.rmdir()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
