"""What a transfer drive (or a lone model folder) offers, and checking it.

A drive is laid out as ``strongroom prepare`` and the reference scripts write it::

    DRIVE/TRANSFER_MANIFEST.sha256     every file on the drive (sha256sum format)
    DRIVE/TRANSFER_METADATA.txt        who prepared it, when, what
    DRIVE/models/<name>/...            a model's files, with airgap_manifest.json
                                       and/or checksums.sha256 beside them

A folder that holds ``airgap_manifest.json`` or ``checksums.sha256`` itself (a model folder,
or an app bundle) is treated as a drive with one model at its root.

Manifests made by the reference scripts record paths from the preparing machine: the
transfer manifest carries the drive's mount point (and lists itself, hashed while still
empty), and a GGUF ``checksums.sha256`` may carry the folder it was made from. Those
prefixes are mapped to this drive and the mapping is reported, never hidden.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Callable

from strongroom.core.progress import Progress
from strongroom.core.transfer import ollama
from strongroom.core.transfer.drive_signatures import check_drive_signatures
from strongroom.core.transfer.file_checks import (
    CheckReport,
    FileResult,
    Listed,
    Status,
    check_files,
)
from strongroom.core.transfer.manifests import (
    CHECKSUMS,
    JSON_MANIFEST,
    TRANSFER_MANIFEST,
    TRANSFER_METADATA,
    Entry,
    Manifest,
    ManifestError,
    model_file_problem,
    path_problem,
    read_capped,
    read_json_manifest,
    read_sha256sum,
    recorded_prefix,
    without_dot_slash,
)
from strongroom.core.transfer.offered import Drive, DriveModel
from strongroom.core.transfer.signatures import (
    DETACHED_SIGNATURE,
    DRIVE_SIGNATURE,
    MAX_SIGNATURE_BYTES,
    SIGNATURE_FILE,
)
from strongroom.core.transfer.trust import TrustPolicy

MODELS = "models"


def _is_plain_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _is_plain_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _map_recorded_paths(manifest: Manifest, folder: Path, anchor: str | None,
                        notes: list[str]) -> dict[str, Entry]:
    """Entries keyed by paths relative to ``folder``, undoing the folder prefix the manifest
    was recorded under on the preparing machine (e.g. the reference procedure's
    /mnt/transfer_drive/), wherever the drive is mounted now. Of the prefix found and each
    folder above it, the one that matches the most files present here is taken; a path
    that no prefix explains stays as it is (and an absolute one is refused as UNSAFE PATH)."""
    names = without_dot_slash(manifest.source, manifest.entries)

    def present(candidates) -> int:
        return sum(1 for n in candidates if path_problem(n) is None and os.path.lexists(folder / n))

    best, best_count = None, present(names)
    prefix = recorded_prefix(list(names), anchor)
    while prefix:
        mapped = {(n[len(prefix):] if n.startswith(prefix) else n): e for n, e in names.items()}
        count = present(mapped)
        if len(mapped) == len(names) and count > best_count:
            best, best_count = (prefix, mapped), count
        prefix = prefix.rstrip("/").rpartition("/")[0] + "/" if "/" in prefix.rstrip("/") else ""
    if best is not None:
        prefix, names = best
        notes.append(f"{manifest.source.name} records paths under {prefix!r} (where it was made); "
                     f"they were matched to {folder}")
    return names


def _read_model(folder: Path, name: str, relative: str) -> DriveModel:
    model = DriveModel(name, relative)
    for filename, reader, attribute in ((JSON_MANIFEST, read_json_manifest, "json_manifest"),
                                        (CHECKSUMS, read_sha256sum, "checksums")):
        path = folder / filename
        if not os.path.lexists(path):
            continue
        if not _is_plain_file(path):
            model.problems.append(f"{path}: the manifest is not a regular file (a link or device?)")
            continue
        try:
            setattr(model, attribute, reader(path))
        except ManifestError as error:
            model.problems.append(str(error))
    model.signature = _read_signature(folder / SIGNATURE_FILE, model.problems)
    model.signature_files = [name for name in (SIGNATURE_FILE, DETACHED_SIGNATURE)
                             if _is_plain_file(folder / name)]
    if model.json_manifest is None and model.checksums is None:
        if not model.problems:
            model.problems.append(f"{folder}: there is no {JSON_MANIFEST} or {CHECKSUMS}, so "
                                  "nothing says what these files should be")
        return model
    try:
        if model.json_manifest is not None:
            model.entries = without_dot_slash(model.json_manifest.source, model.json_manifest.entries)
            model.listings.append((JSON_MANIFEST, model.entries))
        sums = (_map_recorded_paths(model.checksums, folder, None, model.notes)
                if model.checksums is not None else None)
    except ManifestError as error:
        model.problems.append(str(error))
        model.entries, model.listings = {}, []
        return model
    if sums is not None:
        sums.pop(JSON_MANIFEST, None)  # a checksum file may vouch for the JSON manifest too
        model.listings.append((CHECKSUMS, sums))
        _combine_manifests(model, sums)
    return model


def _read_signature(path: Path, problems: list[str]) -> bytes | None:
    """A signature file's bytes (capped, never through a link), or None when there is none;
    one that cannot be read is a problem (it may have been put there to be skipped)."""
    if not os.path.lexists(path):
        return None
    try:
        return read_capped(path, limit=MAX_SIGNATURE_BYTES)
    except ManifestError as error:
        problems.append(f"the signature {error}")
        return None


def _combine_manifests(model: DriveModel, sums: dict[str, Entry]) -> None:
    """The model's files are what either manifest lists. The two disagree only when both list
    a file with different checksums: a checksums.sha256 that lists some of the files (as the
    reference GGUF script writes one beside a complete airgap_manifest.json) does not."""
    for name, entry in sums.items():
        listed = model.entries.get(name)
        if listed is None:
            model.entries[name] = entry
        elif listed.sha256 != entry.sha256:
            model.problems.append(f"{JSON_MANIFEST} and {CHECKSUMS} disagree about {name!r}: "
                                  f"{listed.sha256} versus {entry.sha256}")
    if model.json_manifest is not None:
        only_json = [n for n in model.json_manifest.entries if n not in sums and n != CHECKSUMS]
        if only_json and len(only_json) < len(model.entries):
            model.notes.append(f"{model.drive_path(CHECKSUMS)} lists {len(sums)} of the model's "
                               f"{len(model.entries)} files; the others are checked against "
                               f"{JSON_MANIFEST} alone")


def drive_label(root: Path) -> str:
    """The file system label of the device holding ``root``, else the folder's name."""
    try:
        device = os.stat(root).st_dev
        by_label = Path("/dev/disk/by-label")
        for link in by_label.iterdir() if by_label.is_dir() else []:
            try:
                if os.stat(link).st_rdev == device:
                    return link.name.replace("\\x20", " ")
            except OSError:
                continue
    except OSError:
        pass
    return root.name or str(root)


def open_drive(root: Path) -> Drive:
    """Read what ``root`` offers: manifests and models. Nothing is hashed yet."""
    root = Path(root)
    if root.is_file():
        root = root.parent
    if ollama.looks_like_ollama(root):
        return ollama.open_ollama(root, drive_label(root))
    drive = Drive(root, drive_label(root))
    if not os.path.lexists(root):
        drive.problems.append(f"{root} does not exist: check the path, and that the drive is "
                              "mounted")
        return drive
    if not _is_plain_dir(root):
        drive.problems.append(f"{root}: this is not a folder that Strongroom can read")
        return drive

    transfer = root / TRANSFER_MANIFEST
    if os.path.lexists(transfer):
        try:
            if not _is_plain_file(transfer):
                raise ManifestError(f"{transfer}: the manifest is not a regular file")
            drive.transfer = read_sha256sum(transfer)
            entries = _map_recorded_paths(drive.transfer, root, TRANSFER_MANIFEST, drive.notes)
            if entries.pop(TRANSFER_MANIFEST, None) is not None:
                drive.notes.append(f"{TRANSFER_MANIFEST} lists itself (hashed while it was being "
                                   "written, so that line is not checked)")
            drive.transfer_entries = entries
        except ManifestError as error:
            drive.problems.append(str(error))
    drive.signature = _read_signature(root / DRIVE_SIGNATURE, drive.problems)
    metadata = root / TRANSFER_METADATA
    if _is_plain_file(metadata):
        try:
            drive.metadata = read_capped(metadata, limit=1 << 20).decode("utf-8", "replace")
        except ManifestError as error:
            drive.notes.append(f"{TRANSFER_METADATA} is not shown: {error}")

    models_folder = root / MODELS
    if _is_plain_dir(models_folder):
        for folder in sorted(models_folder.iterdir(), key=lambda p: p.name.lower()):
            relative = f"{MODELS}/{folder.name}"
            if not _is_plain_dir(folder):
                if folder.is_symlink():
                    drive.problems.append(f"{relative} is a symbolic link, not a folder; "
                                          "it is not followed")
                continue
            drive.models.append(_read_model(folder, folder.name, relative))
    elif os.path.lexists(models_folder):
        drive.problems.append(f"{models_folder} is not a folder (a link?); it is not followed")
    if not drive.models and (os.path.lexists(root / JSON_MANIFEST) or os.path.lexists(root / CHECKSUMS)):
        drive.models.append(_read_model(root, root.name, ""))
    if not drive.models and drive.transfer is None and not drive.problems:
        drive.problems.append(
            f"{root} holds nothing to verify: no {TRANSFER_MANIFEST}, no {MODELS}/ folder with "
            f"manifests, no {JSON_MANIFEST} or {CHECKSUMS}. Is this the right folder?")
    return drive


def unsafe_transfer_entries(drive: Drive) -> list[FileResult]:
    """Transfer manifest lines whose paths could reach outside the drive. Whatever part of
    the drive is being checked, a drive that carries such a line is not trusted."""
    return [FileResult(path, Status.UNSAFE_PATH, problem, listed_in=(TRANSFER_MANIFEST,))
            for path in drive.transfer_entries if (problem := path_problem(path))]


def verify_drive(drive: Drive, model_names: list[str] | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None,
                 trust: TrustPolicy | None = None) -> CheckReport:
    """Check the whole drive, or only the named models (their folders and what the
    transfer manifest says about them), and its signatures against ``trust`` (the
    workstation's policy; None: no key is trusted, nothing is required)."""
    report = CheckReport(drive.root, problems=list(drive.problems), notes=list(drive.notes))
    models = drive.models if model_names is None else [drive.model(n) for n in model_names]
    listed: dict[str, Listed] = {}
    refused = unsafe_transfer_entries(drive)

    def claim(path: str, label: str, entry: Entry) -> None:
        listed.setdefault(path, Listed(path, [])).claims.append((label, entry))

    if drive.transfer is not None:
        report.checked_with.append(f"{TRANSFER_MANIFEST} (sha256 {drive.transfer.raw_sha256})")
        scopes = None if model_names is None else [m.relative + "/" for m in models]
        for path, entry in drive.transfer_entries.items():
            if path_problem(path) is None and (scopes is None or any(path.startswith(s) for s in scopes)):
                claim(path, TRANSFER_MANIFEST, entry)
    exempt = {TRANSFER_MANIFEST, TRANSFER_METADATA, DRIVE_SIGNATURE}
    for model in models:
        report.problems += [p for p in model.problems if p not in report.problems]
        report.notes += model.notes
        if model.other_manifest is not None:
            report.checked_with.append(f"{model.other_manifest.source} "
                                       f"(sha256 {model.other_manifest.raw_sha256})")
        for manifest in (model.json_manifest, model.checksums):
            if manifest is not None:
                report.checked_with.append(f"{model.drive_path(manifest.source.name)} "
                                           f"(sha256 {manifest.raw_sha256})")
                exempt.add(model.drive_path(manifest.source.name))
        exempt |= {model.drive_path(name) for name in model.signature_files}
        for name in model.entries:
            claims = model.claims_for(name)
            # The manifest's own name is judged, not the path it would make on the drive.
            problem = model_file_problem(name) if name not in model.sources else None
            if problem:
                label = claims[0][0]
                refused.append(FileResult(model.drive_path(name), Status.UNSAFE_PATH,
                                          f"{label} lists {name!r}: {problem}", listed_in=(label,)))
            else:
                for label, entry in claims:
                    claim(model.drive_path(name), label, entry)
    if model_names is None and drive.kind == "transfer":
        scan = [""]
    else:
        scan = [folder for m in models for folder in m.extra_scan]
    results = check_files(drive.root, listed, scan=scan, exempt=exempt,
                          on_progress=on_progress, cancel=cancel)
    report.results = sorted(_only_in_transfer(results, models) + refused, key=lambda r: r.path)
    check_drive_signatures(drive, models, report, trust or TrustPolicy())
    return report


def _only_in_transfer(results: list[FileResult], models: list[DriveModel]) -> list[FileResult]:
    """A file in a model's folder that only the transfer manifest lists is not part of the
    model: an import would not bring it in, so it is reported as EXTRA there."""
    folders = [(m.relative + "/", {m.drive_path(f) for f in m.manifest_files()})
               for m in models if m.owns_folder and m.relative]
    for result in results:
        if result.ok and result.listed_in == (TRANSFER_MANIFEST,) and any(
                result.path.startswith(folder) and result.path not in own for folder, own in folders):
            result.status = Status.EXTRA
            result.detail = f"listed in {TRANSFER_MANIFEST} but not in the model's own manifests"
    return results


def find_removable_drives(bases: tuple[str, ...] = ("/media", "/run/media", "/mnt")) -> list[Path]:
    """Mounted folders (two levels under the usual mount bases) that look like drives."""
    found = []
    for base in bases:
        base_path = Path(base)
        if not base_path.is_dir():
            continue
        candidates = [p for p in base_path.iterdir() if p.is_dir()]
        candidates += [q for p in candidates for q in _subdirs(p)]
        for candidate in candidates:
            if (candidate / TRANSFER_MANIFEST).is_file() or (candidate / MODELS).is_dir():
                found.append(candidate)
    return sorted(set(found))


def _subdirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except OSError:
        return []
