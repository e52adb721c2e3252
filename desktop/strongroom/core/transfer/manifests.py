"""The manifest formats a transfer drive carries, read strictly and written compatibly.

* ``airgap_manifest.json``: ``{"model_id", "revision", "files": {path: {"sha256", "size_bytes"}}}``
  exactly as the reference scripts write it; Strongroom adds fields (``format``,
  ``format_version``, ``source``, ``created_at``, per-file ``hub_check``) that those
  scripts ignore.
* ``checksums.sha256`` and ``TRANSFER_MANIFEST.sha256``: coreutils ``sha256sum`` lines,
  ``<hex>  <path>`` or ``<hex> *<path>`` (and the ``SHA256 (path) = hex`` tag form), with
  sha256sum's backslash escaping for names holding a newline or backslash.

Readers never trust a manifest: sizes are capped before parsing, duplicate entries are
refused (JSON would silently keep the last), every field is type-checked, and every
path is checked by `path_problem` before it is joined to a folder.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from strongroom.core.display import printable
from strongroom.core.errors import StrongroomError
from strongroom.core.transfer.safe_files import UnsafeFileError, open_regular_file

# A model manifest lists a few dozen files; even a 100,000-file tree stays under a few MB.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
JSON_MANIFEST = "airgap_manifest.json"
CHECKSUMS = "checksums.sha256"
TRANSFER_MANIFEST = "TRANSFER_MANIFEST.sha256"
TRANSFER_METADATA = "TRANSFER_METADATA.txt"
STRONGROOM_FORMAT = "strongroom.model-manifest"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SUM_LINE = re.compile(r"([0-9a-fA-F]{64}) ([ *])(.+)")
_TAG_LINE = re.compile(r"SHA256 \((.+)\) = ([0-9a-fA-F]{64})")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:")


class ManifestError(StrongroomError, ValueError):
    """A manifest cannot be used; the message names the file, the entry and the problem."""


@dataclass(frozen=True)
class Entry:
    path: str  # as written in the manifest
    sha256: str
    size: int | None = None  # sha256sum files carry no sizes
    hub_check: str | None = None


@dataclass
class Manifest:
    source: Path  # the manifest file
    kind: str  # "json" or "sha256sum"
    entries: dict[str, Entry]
    raw_sha256: str  # of the manifest file's bytes
    model_id: str | None = None
    revision: str | None = None
    extra: dict = field(default_factory=dict)  # other top-level fields (Strongroom's additions)
    raw: bytes = b""  # the bytes that were read and checked (never read again from the drive)


MAX_PATH_CHARACTERS = 1024
MAX_PATH_DEPTH = 32
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}  # controls, bidi and other format characters
_WINDOWS_DEVICES = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)
STORE_RESERVED = ("provenance.json",)  # names the model store keeps for itself, in a version


def path_problem(name: str) -> str | None:
    """Why ``name`` cannot be used as a path inside a folder, or None if it can."""
    if not name:
        return "the path is empty"
    if "\x00" in name:
        return "the path contains a NUL character"
    hidden = next((c for c in name if unicodedata.category(c) in _HIDDEN_CATEGORIES), None)
    if hidden is not None:
        kind = ("a bidirectional or other invisible formatting character"
                if unicodedata.category(hidden) == "Cf" else "a control character")
        return f"the path contains {kind} (U+{ord(hidden):04X})"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the path is not valid UTF-8"
    if len(name) > MAX_PATH_CHARACTERS:
        return f"the path is {len(name):,} characters long; at most {MAX_PATH_CHARACTERS:,} are accepted"
    if name.startswith(("\\\\", "//")):
        return "it is a network (UNC) path"
    if _WINDOWS_DRIVE.match(name):
        return "it is a Windows drive path"
    if "\\" in name:
        return "it uses Windows backslashes"
    if name.startswith("/"):
        return "it is an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "it climbs out of the folder with '..'"
    if any(p in ("", ".") for p in parts):
        return "it is not a plain relative path (empty or '.' parts)"
    if len(parts) > MAX_PATH_DEPTH:
        return f"it is {len(parts):,} folders deep; at most {MAX_PATH_DEPTH} are accepted"
    reserved = next((p for p in parts if _WINDOWS_DEVICES.fullmatch(p) or p.endswith((".", " "))), None)
    if reserved is not None:
        return (f"{reserved!r} is a name Windows reserves or cannot hold (a device name, or a "
                "trailing dot or space)")
    return None


def model_file_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file of a model (a path problem, or a name the model store
    keeps for itself), or None if it can."""
    problem = path_problem(name)
    if problem is None and name in STORE_RESERVED:
        problem = (f"{name} is the name of the record the model store keeps beside a model's "
                   "files, so a model file cannot have it")
    return problem


def strip_dot_slash(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def without_dot_slash(source: Path, entries: dict[str, Entry]) -> dict[str, Entry]:
    """``entries`` keyed by path without a leading './'; two spellings of one path are refused."""
    result: dict[str, Entry] = {}
    spelled: dict[str, str] = {}
    for name, entry in entries.items():
        plain = strip_dot_slash(name)
        if plain in result:
            raise ManifestError(f"{source}: {printable(plain)!s} is listed twice (as "
                                f"{printable(spelled[plain])} and {printable(name)})")
        result[plain] = entry
        spelled[plain] = name
    return result


def name_collisions(names: list[str]) -> dict[str, str]:
    """{name: the earlier name it collides with} for names equal once letter case and Unicode
    forms are ignored (NFC/NFD twins, compatibility forms): on Windows and macOS drives, and to
    a person reading them, they are the same file."""
    seen: dict[str, str] = {}
    collisions = {}
    for name in names:
        key = unicodedata.normalize("NFKC", name).casefold()
        if key in seen and seen[key] != name:
            collisions[name] = seen[key]
        seen.setdefault(key, name)
    return collisions


def collision_problem(other: str) -> str:
    return (f"it is the same name as {printable(other)!r} once letter case and Unicode forms are "
            "ignored; on Windows and macOS drives they are the same file")


def read_capped(path: Path, limit: int = MAX_MANIFEST_BYTES) -> bytes:
    """The bytes of the manifest at ``path``, refused before reading when it is larger than
    ``limit``; never through a symbolic link, and never anything but a regular file."""
    try:
        fd, status = open_regular_file(path, allow_hard_links=True)
    except UnsafeFileError as error:
        raise ManifestError(f"{path}: the manifest is not a regular file ({error.strerror})") from None
    except OSError as error:
        raise ManifestError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        if status.st_size > limit:
            raise ManifestError(
                f"{path}: the manifest is {status.st_size / 1e6:.0f} MB; manifests are at most "
                f"{limit // 2**20} MB, so this one is refused unread")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise ManifestError(f"{path}: cannot be read ({error.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ManifestError(f"{path}: the manifest grew past {limit // 2**20} MB while it was read")
    return data


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _no_duplicates(source: Path):
    def hook(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise ManifestError(f"{source}: the entry {key!r} appears twice")
            result[key] = value
        return result

    return hook


def read_json_manifest(path: Path) -> Manifest:
    raw = read_capped(path)
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates(path))
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: the manifest is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: the manifest is not valid JSON ({error.msg} at line "
                            f"{error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise ManifestError(f"{path}: the manifest is nested too deeply to be a manifest") from None
    except ValueError as error:  # e.g. a number with thousands of digits
        raise ManifestError(f"{path}: the manifest holds a value that cannot be read ({error})") from None
    if not isinstance(document, dict):
        raise ManifestError(f"{path}: the manifest must be a JSON object")
    for key in ("model_id", "revision"):
        if not isinstance(document.get(key), str):
            raise ManifestError(f"{path}: {key!r} must be text, found {document.get(key)!r}")
    files = document.get("files")
    if not isinstance(files, dict) or not files:
        raise ManifestError(f"{path}: 'files' must be an object listing at least one file")
    entries = {}
    for name, described in files.items():
        where = f"{path}: entry {name!r}"
        if not isinstance(described, dict):
            raise ManifestError(f"{where} must be an object with sha256 and size_bytes")
        sha256 = described.get("sha256")
        size = described.get("size_bytes")
        if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256.lower()):
            raise ManifestError(f"{where}: sha256 must be 64 hexadecimal characters, found {sha256!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ManifestError(f"{where}: size_bytes must be a whole number ≥ 0, found {size!r}")
        hub_check = described.get("hub_check")
        entries[name] = Entry(name, sha256.lower(), size, hub_check if isinstance(hub_check, str) else None)
    extra = {k: v for k, v in document.items() if k not in ("model_id", "revision", "files")}
    return Manifest(path, "json", entries, _sha256(raw), document["model_id"],
                    document["revision"], extra, raw)


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and i + 1 < len(name):
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(name[i + 1], name[i + 1]))
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def read_sha256sum(path: Path) -> Manifest:
    raw = read_capped(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ManifestError(f"{path}: line {line} is not valid UTF-8 (a file name in another "
                            "encoding?); names must be UTF-8") from None
    entries: dict[str, Entry] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        escaped = line.startswith("\\")
        body = line[1:] if escaped else line
        match = _SUM_LINE.fullmatch(body) or None
        if match:
            digest, name = match.group(1), match.group(3)
        else:
            tagged = _TAG_LINE.fullmatch(body)
            if not tagged:
                raise ManifestError(f"{path}: line {number} is not a sha256sum line: {line[:80]!r}")
            name, digest = tagged.group(1), tagged.group(2)
        if escaped:
            name = _unescape(name)
        if name in entries:
            if entries[name].sha256 != digest.lower():
                raise ManifestError(f"{path}: {name!r} is listed twice with different checksums")
            raise ManifestError(f"{path}: {name!r} is listed twice (line {number})")
        entries[name] = Entry(name, digest.lower())
    if not entries:
        raise ManifestError(f"{path}: the checksum file lists no files")
    return Manifest(path, "sha256sum", entries, _sha256(raw), raw=raw)


def sha256sum_text(entries: dict[str, str]) -> str:
    """sha256sum lines for {relative path: hex}, sorted, escaped as sha256sum escapes."""
    lines = []
    for name in sorted(entries):
        if "\\" in name or "\n" in name or "\r" in name:
            escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
            lines.append(f"\\{entries[name]}  {escaped}")
        else:
            lines.append(f"{entries[name]}  {name}")
    return "\n".join(lines) + "\n"


def json_manifest_text(model_id: str, revision: str, files: dict[str, Entry], **extra) -> str:
    """The seed's manifest form, with Strongroom's fields added."""
    document = {
        "model_id": model_id,
        "revision": revision,
        "files": {
            name: {"sha256": e.sha256, "size_bytes": e.size,
                   **({"hub_check": e.hub_check} if e.hub_check else {})}
            for name, e in sorted(files.items())
        },
        "format": STRONGROOM_FORMAT,
        "format_version": 1,
        **extra,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def recorded_prefix(names: list[str], anchor: str | None = None) -> str:
    """The folder prefix the names were recorded under on the preparing machine.

    sha256sum files made with ``find /mnt/drive -type f -exec sha256sum {} \\;`` or from
    another working folder carry that folder in every path. With ``anchor`` (a file
    known to sit at the folder's root, e.g. the manifest itself) the prefix is where the
    anchor was; otherwise it is the longest folder prefix all names share.
    """
    if anchor is not None:
        for name in names:
            if name == anchor or name.endswith("/" + anchor):
                return name[: len(name) - len(anchor)]
    if not names:
        return ""
    folders = [PurePosixPath(n).parent.parts for n in names]
    common = folders[0]
    for parts in folders[1:]:
        length = 0
        while length < min(len(common), len(parts)) and common[length] == parts[length]:
            length += 1
        common = common[:length]
    if not common:
        return ""
    prefix = str(PurePosixPath(*common))
    return prefix if prefix.endswith("/") else prefix + "/"
