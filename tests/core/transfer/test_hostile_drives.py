"""Hostile transfer drives: every one must fail verification, be refused by the import, and
leave the model store exactly as it was.

Each case copies a good drive (a small GGUF model prepared by `prepare_local`, with a
transfer manifest) and damages it in one precise way, rewriting the manifests where the
attack needs them to agree so that only the intended inconsistency remains. Then, for
every case:

(a) `verify_drive` fails with the expected per-file status or manifest problem, and its
    report names the offending entry (GGUF header attacks are consistent with their
    manifests by construction: for them the verification that must fail is the GGUF
    header check, run in a child process as the import runs it);
(b) `ModelStore.import_model` raises `ImportRefused` naming the entry (or the drive offers
    no model and says why, which is where the app stops);
(c) the store, which already holds one imported model, is byte-for-byte unchanged (every
    path, its type, mode, link count, size and content hash) and has no staging leftovers;
(d) the command line agrees: `strongroom verify` exits non-zero naming the entry, and
    `strongroom import --yes` exits non-zero and leaves the store unchanged.

Messages are also checked for being printable UTF-8 text that cannot forge report lines.
Cases marked xfail (strict) are application bugs; each reason says what goes wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gguf
import pytest

from strongroom.core.store.import_workflow import ImportWorkflow, Step
from strongroom.core.store.model_store import ImportRefused, ModelStore
from strongroom.core.transfer import file_checks as verify_module
from strongroom.core.transfer.drive import open_drive, verify_drive
from strongroom.core.transfer.file_checks import CheckReport, Status
from strongroom.core.transfer.gguf_check import check_gguf
from strongroom.core.transfer.manifests import sha256sum_text
from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest
from strongroom.core.transfer.safe_files import open_beneath
from tests.helpers import REPO
from tests.helpers.gguf_files import (
    CORRUPTIONS,
    rename_in_header,
    write_attention_gguf,
    write_small_gguf,
)
from tests.helpers.privileges import as_reader
from tests.helpers.stores import store_with_small_model

MODEL = "models/tiny"
JSON_MANIFEST = f"{MODEL}/airgap_manifest.json"
CHECKSUMS = f"{MODEL}/checksums.sha256"
TRANSFER = "TRANSFER_MANIFEST.sha256"
HUNDRED_MB = 100 * 2**20
UINT32 = gguf.GGUFValueType.UINT32
HOSTILE_TEMPLATES = {
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}"
                    "{% endfor %}{% endfor %}",
    "memory-flood": "{{ 'x' * 10000000000 }}",
    "text-flood": "{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}",
    "endless-recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
}


# -- the good drive and the store every case starts from ---------------------------------------

@pytest.fixture(scope="module")
def good_drive(tmp_path_factory) -> Path:
    """models/tiny: tiny.gguf, config.json and tokenizer/tokenizer.json, with both model
    manifests, TRANSFER_MANIFEST.sha256 and TRANSFER_METADATA.txt. Never modified."""
    source = tmp_path_factory.mktemp("tiny-source")
    write_small_gguf(source / "tiny.gguf")
    (source / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}\n')
    (source / "tokenizer").mkdir()
    (source / "tokenizer" / "tokenizer.json").write_text('{"model": {"type": "BPE"}}\n')
    drive = tmp_path_factory.mktemp("good-drive")
    prepare_local(drive, "tiny", [source])
    write_transfer_manifest(drive)
    report = verify_drive(open_drive(drive))
    assert report.ok, report.summary()
    return drive


@pytest.fixture(scope="module")
def resident_store(tmp_path_factory) -> Path:
    """A store that already holds one imported model ("resident", other bytes than tiny's),
    so that "the store is unchanged" means something. Never modified."""
    return store_with_small_model(tmp_path_factory, "resident",
                                  {"README.md": "The model already in the store.\n"})


def copy_tree_keeping_hard_links(source: Path, target: Path) -> None:
    """Copy a folder tree; files that share an inode in ``source`` share one in ``target``
    (the store's version files are hard links to its blobs). Folder modes are kept."""
    copies: dict[tuple[int, int], Path] = {}
    folders = []
    for folder, _dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        folders.append((target / relative, stat.S_IMODE(os.stat(folder).st_mode)))
        for name in files:
            original = Path(folder) / name
            status = original.lstat()
            key = (status.st_dev, status.st_ino)
            if key in copies:
                os.link(copies[key], target / relative / name)
            else:
                shutil.copy2(original, target / relative / name)
                copies[key] = target / relative / name
    for folder, mode in reversed(folders):
        os.chmod(folder, mode)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, mode, link count, size and content hash
    (or link target): two equal snapshots mean an unchanged tree."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            status = path.lstat()
            if stat.S_ISREG(status.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(status.st_mode):
                content = os.readlink(path)
            else:
                content = None
            state[str(path.relative_to(root))] = (stat.S_IFMT(status.st_mode),
                                                  stat.S_IMODE(status.st_mode),
                                                  status.st_nlink,
                                                  status.st_size if stat.S_ISREG(status.st_mode) else None,
                                                  content)
    return state


@dataclass
class Bench:
    """One case's workplace: a copy of the good drive, a folder outside it, and a
    STRONGROOM_HOME whose store is a copy of the resident store."""

    drive: Path
    outside: Path
    home: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def store(self) -> Path:
        return self.home / "data" / "store"

    @property
    def model(self) -> Path:
        return self.drive / MODEL


@pytest.fixture
def bench(tmp_path, good_drive, resident_store, monkeypatch) -> Bench:
    drive = tmp_path / "drive"
    shutil.copytree(good_drive, drive, symlinks=True)
    outside = tmp_path / "outside"
    shutil.copytree(good_drive / MODEL, outside)  # the same files, outside the drive
    home = tmp_path / "home"
    copy_tree_keeping_hard_links(resident_store, home / "data" / "store")
    return Bench(drive, outside, home, monkeypatch)


# -- rewriting manifests -------------------------------------------------------------------------

def digest(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def read_json_manifest(bench: Bench) -> dict:
    return json.loads((bench.drive / JSON_MANIFEST).read_text())


def write_json_manifest(bench: Bench, document) -> None:
    (bench.drive / JSON_MANIFEST).write_text(json.dumps(document, indent=2))


def rewrite_transfer(bench: Bench, overrides: dict[str, str | None] | None = None) -> None:
    """TRANSFER_MANIFEST.sha256 as `prepare` would write it for the regular files now on the
    drive, then ``overrides`` applied ({path: sha256}, or None to drop a line)."""
    entries = {}
    for folder, _dirs, files in os.walk(bench.drive):
        for name in files:
            path = Path(folder) / name
            relative = path.relative_to(bench.drive).as_posix()
            if relative in (TRANSFER, "TRANSFER_METADATA.txt") or not stat.S_ISREG(path.lstat().st_mode):
                continue
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                continue  # a name that is not UTF-8 cannot be written into a manifest
            entries[relative] = digest(path)[0]
    for relative, sha256 in (overrides or {}).items():
        if sha256 is None:
            entries.pop(relative, None)
        else:
            entries[relative] = sha256
    (bench.drive / TRANSFER).write_text(sha256sum_text(entries))


def list_model_files(bench: Bench, files: dict[str, tuple[str, int]]) -> None:
    """Make both model manifests list exactly ``files`` ({name: (sha256, size)}), then
    rewrite the transfer manifest: the drive is consistent except for what ``files`` says."""
    document = read_json_manifest(bench)
    document["files"] = {name: {"sha256": sha, "size_bytes": size} for name, (sha, size) in files.items()}
    write_json_manifest(bench, document)
    (bench.drive / CHECKSUMS).write_bytes(
        sha256sum_text({name: sha for name, (sha, _) in files.items()}).encode("utf-8"))
    rewrite_transfer(bench)


def current_files(bench: Bench) -> dict[str, tuple[str, int]]:
    return {name: (e["sha256"], e["size_bytes"]) for name, e in read_json_manifest(bench)["files"].items()}


def relist_as_is(bench: Bench) -> None:
    """After changing file content: record every listed file as it now is, everywhere."""
    list_model_files(bench, {name: digest(bench.model / name) for name in current_files(bench)})


# -- the cases -----------------------------------------------------------------------------------

@dataclass
class Hostile:
    """One hostile drive and what the app must say about it."""

    damage: Callable[[Bench], None]
    status: Status | None = None  # the verdict on one file ...
    entry: str | None = None  # ... this one, relative to the drive root
    detail: str = ""  # text in that file's verdict
    problem: str | None = None  # or: text in one of the report's manifest problems
    names: tuple[str, ...] = ()  # what every message must mention (default: the entry)
    refusal: tuple[str, ...] = ()  # what the import's refusal must say (default: status/problem)
    header: str | None = None  # GGUF cases: what the header check must say
    unprivileged: bool = False  # read the drive without root's permission override
    cli: bool = True  # also run the command line (not where the attack is a test seam)
    store_refuses: bool = True  # the store refuses it alone (not only the import workflow)

    def must_mention(self) -> tuple[str, ...]:
        return self.names or ((self.entry,) if self.entry else ())

    def refusal_says(self) -> tuple[str, ...]:
        if self.refusal:
            return self.refusal
        if self.header is not None:
            return (f"{GGUF} was refused before loading", self.header)
        return tuple(t for t in (self.status.value if self.status else None, self.problem) if t)


def add_listed_entry(name: str, like: str = "config.json") -> Callable[[Bench], None]:
    """List one more file, ``name``, in both model manifests with the checksum and size of
    ``like`` (so that blindly joining the path to the folder would find matching bytes)."""
    def damage(bench: Bench) -> None:
        files = current_files(bench)
        list_model_files(bench, {**files, name: files[like]})
    return damage


def add_entry_to_outside_file(make_name: Callable[[Bench], str]) -> Callable[[Bench], None]:
    """List a file outside the drive (one that exists, with its true checksum)."""
    def damage(bench: Bench) -> None:
        secret = bench.outside.parent / "outside.bin"
        secret.write_bytes(b"bytes that live outside the drive\n")
        list_model_files(bench, {**current_files(bench), make_name(bench): digest(secret)})
    return damage


def json_only_with_entry(name: str) -> Callable[[Bench], None]:
    """A model described by airgap_manifest.json alone, listing ``name`` too (for names
    that the sha256sum format cannot hold)."""
    def damage(bench: Bench) -> None:
        document = read_json_manifest(bench)
        document["files"][name] = document["files"]["config.json"]
        write_json_manifest(bench, document)  # ensure_ascii: valid JSON whatever the name
        (bench.drive / CHECKSUMS).unlink()
        rewrite_transfer(bench)
    return damage


PATH_CASES = {
    "dotdot-out-of-the-drive": (add_entry_to_outside_file(lambda b: "../../../outside.bin"),
                                f"{MODEL}/../../../outside.bin", "climbs out of the folder with '..'"),
    "dotdot-inside-a-subfolder": (add_entry_to_outside_file(lambda b: "tokenizer/../../../../outside.bin"),
                                  f"{MODEL}/tokenizer/../../../../outside.bin", "'..'"),
    "absolute-path": (add_entry_to_outside_file(lambda b: str(b.outside.parent / "outside.bin")),
                      None, "it is an absolute path"),
    "windows-drive-backslashes": (add_listed_entry("C:\\Windows\\System32\\config\\SAM"),
                                  f"{MODEL}/C:\\Windows\\System32\\config\\SAM", "Windows drive path"),
    "windows-drive-slashes": (add_listed_entry("C:/Windows/win.ini"),
                              f"{MODEL}/C:/Windows/win.ini", "Windows drive path"),
    "unc-backslashes": (add_listed_entry("\\\\server\\share\\model.gguf"),
                        f"{MODEL}/\\\\server\\share\\model.gguf", "network (UNC) path"),
    "unc-slashes": (add_listed_entry("//server/share/model.gguf"),
                    f"{MODEL}///server/share/model.gguf", "network (UNC) path"),
    "backslash-separators": (add_listed_entry("tokenizer\\tokenizer.json", like="tokenizer/tokenizer.json"),
                             f"{MODEL}/tokenizer\\tokenizer.json", "Windows backslashes"),
    "empty-path-part": (add_listed_entry("tokenizer//tokenizer.json", like="tokenizer/tokenizer.json"),
                        f"{MODEL}/tokenizer//tokenizer.json", "not a plain relative path"),
    "dot-path-part": (add_listed_entry("tokenizer/./tokenizer.json", like="tokenizer/tokenizer.json"),
                      f"{MODEL}/tokenizer/./tokenizer.json", "not a plain relative path"),
}


def path_case(key: str) -> Hostile:
    damage, entry, detail = PATH_CASES[key]
    return Hostile(damage, Status.UNSAFE_PATH, entry, detail, names=(entry,) if entry else ("outside.bin",))


# Names carrying NUL, newline or terminal escapes must be refused, and named in a form that
# prints safely (see `assert_printable`).
FORGED = "All 9 files verified (2.0 KB). Nothing is missing, changed or extra."


def forged_line_name() -> str:
    return "config.json\n" + FORGED


def terminal_escape_name() -> str:
    return "\x1b[1A\x1b[2Kconfig.json"  # cursor up, erase the line above


def symlink_model_file(bench: Bench) -> None:
    (bench.model / "tiny.gguf").unlink()
    (bench.model / "tiny.gguf").symlink_to(bench.outside / "tiny.gguf")  # the same bytes


def symlink_model_subfolder(bench: Bench) -> None:
    shutil.rmtree(bench.model / "tokenizer")
    (bench.model / "tokenizer").symlink_to(bench.outside / "tokenizer", target_is_directory=True)


def symlink_model_folder(bench: Bench) -> None:
    shutil.rmtree(bench.model)
    bench.model.symlink_to(bench.outside, target_is_directory=True)


def symlink_second_model_folder(bench: Bench) -> None:
    (bench.drive / "models" / "evil").symlink_to(bench.outside, target_is_directory=True)


def symlink_models_folder(bench: Bench) -> None:
    moved = bench.outside.parent / "models-elsewhere"
    os.rename(bench.drive / "models", moved)
    (bench.drive / "models").symlink_to(moved, target_is_directory=True)


def symlink_manifest(bench: Bench) -> None:
    (bench.drive / JSON_MANIFEST).unlink()
    (bench.drive / JSON_MANIFEST).symlink_to(bench.outside / "airgap_manifest.json")


def symlink_transfer_manifest(bench: Bench) -> None:
    shutil.copy(bench.drive / TRANSFER, bench.outside / TRANSFER)
    (bench.drive / TRANSFER).unlink()
    (bench.drive / TRANSFER).symlink_to(bench.outside / TRANSFER)


def hard_link_model_file(bench: Bench) -> None:
    (bench.model / "tiny.gguf").unlink()
    os.link(bench.outside / "tiny.gguf", bench.model / "tiny.gguf")  # the same bytes


def fifo_as(relative: str) -> Callable[[Bench], None]:
    def damage(bench: Bench) -> None:
        (bench.drive / relative).unlink()
        os.mkfifo(bench.drive / relative)  # no writer: a plain open() would wait forever
    return damage


def character_device_as_config(bench: Bench) -> None:
    (bench.model / "config.json").unlink()
    try:
        os.mknod(bench.model / "config.json", 0o644 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")


def socket_as_tokenizer(bench: Bench) -> None:
    where = bench.outside / "s"  # short: socket paths are limited to ~108 bytes
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(where))
    (bench.model / "tokenizer" / "tokenizer.json").unlink()
    os.rename(where, bench.model / "tokenizer" / "tokenizer.json")


def changes_after_open(relative: str, change: Callable[[Path], None]) -> Callable[[Bench], None]:
    """The file has the listed size when it is opened and checked, and another writer changes
    it before it is read. To make that deterministic (no timing), the app's opener is wrapped:
    each open first finds the file as listed, and right after the open the change happens."""
    target = f"{MODEL}/{relative}"

    def damage(bench: Bench) -> None:
        path = bench.drive / target
        as_listed = path.read_bytes()

        def opener(root, name, allow_hard_links=False):
            if name == target:
                path.write_bytes(as_listed)  # same inode, the size the manifests record
            opened = open_beneath(root, name, allow_hard_links)
            if name == target:
                change(path)
            return opened

        # verify and import open listed files through the same function
        bench.monkeypatch.setattr(verify_module, "open_beneath", opener)
    return damage


def grow(path: Path) -> None:
    with open(path, "ab") as handle:
        handle.write(b"\0" * 4096)


def shrink(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def size_mismatch(bench: Bench) -> None:
    """config.json gains 100 bytes; every checksum is updated, only the size is left stale."""
    with open(bench.model / "config.json", "ab") as handle:
        handle.write(b" " * 100)
    files = current_files(bench)
    files["config.json"] = (digest(bench.model / "config.json")[0], files["config.json"][1])
    list_model_files(bench, files)


def flip_a_byte(bench: Bench, name: str = "tiny.gguf") -> None:
    path = bench.model / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def tamper_and_rewrite_transfer(bench: Bench) -> None:
    flip_a_byte(bench)
    rewrite_transfer(bench)  # the attacker updated the transfer manifest, not the model's


def transfer_disagrees(bench: Bench) -> None:
    rewrite_transfer(bench, {f"{MODEL}/config.json": hashlib.sha256(b"other bytes").hexdigest()})


def transfer_lists_unsafe_path(bench: Bench) -> None:
    secret = bench.outside.parent / "outside.bin"
    secret.write_bytes(b"bytes that live outside the drive\n")
    rewrite_transfer(bench, {str(secret): digest(secret)[0]})


def transfer_lists_a_file_the_model_does_not(bench: Bench) -> None:
    (bench.model / "evil.py").write_text("import os; os.system('id')\n")
    rewrite_transfer(bench)


def add_extra_file(relative: str) -> Callable[[Bench], None]:
    def damage(bench: Bench) -> None:
        (bench.drive / relative).write_text("not listed anywhere\n")
    return damage


def remove_file(bench: Bench) -> None:
    (bench.model / "config.json").unlink()


def duplicate_json_key(bench: Bench) -> None:
    text = (bench.drive / JSON_MANIFEST).read_text()
    entry = json.dumps(read_json_manifest(bench)["files"]["tiny.gguf"])
    (bench.drive / JSON_MANIFEST).write_text(text.replace('"files": {', f'"files": {{\n    "tiny.gguf": {entry},', 1))
    rewrite_transfer(bench)


def duplicate_sums_line(different: bool) -> Callable[[Bench], None]:
    def damage(bench: Bench) -> None:
        sha = "0" * 64 if different else current_files(bench)["tiny.gguf"][0]
        with open(bench.drive / CHECKSUMS, "a") as handle:
            handle.write(f"{sha}  tiny.gguf\n")
        rewrite_transfer(bench)
    return damage


def duplicate_transfer_line(bench: Bench) -> None:
    lines = (bench.drive / TRANSFER).read_text().splitlines()
    line = next(l for l in lines if l.endswith(f"{MODEL}/tiny.gguf"))
    (bench.drive / TRANSFER).write_text("\n".join(lines + [line]) + "\n")


def duplicate_through_dot_slash(bench: Bench) -> None:
    """'./tiny.gguf' and 'tiny.gguf' are one file listed twice, with different checksums;
    the wrong one comes first in both manifests, so 'the last one wins' hides it."""
    document = read_json_manifest(bench)
    wrong = {"sha256": "0" * 64, "size_bytes": document["files"]["tiny.gguf"]["size_bytes"]}
    document["files"] = {"./tiny.gguf": wrong, **document["files"]}
    write_json_manifest(bench, document)
    sums = (bench.drive / CHECKSUMS).read_text()
    (bench.drive / CHECKSUMS).write_text(f"{'0' * 64}  ./tiny.gguf\n{sums}")
    rewrite_transfer(bench)


def sums_disagree_about_checksum(bench: Bench) -> None:
    sums = {name: sha for name, (sha, _) in current_files(bench).items()}
    sums["tiny.gguf"] = hashlib.sha256(b"something else").hexdigest()
    (bench.drive / CHECKSUMS).write_text(sha256sum_text(sums))
    rewrite_transfer(bench)


def write_json_text(text: str | bytes) -> Callable[[Bench], None]:
    def damage(bench: Bench) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        (bench.drive / JSON_MANIFEST).write_bytes(data)
        rewrite_transfer(bench)
    return damage


def truncated_json(bench: Bench) -> None:
    text = (bench.drive / JSON_MANIFEST).read_text()
    write_json_text(text[: len(text) // 2])(bench)


def json_in_utf16(bench: Bench) -> None:
    write_json_text((bench.drive / JSON_MANIFEST).read_text().encode("utf-16"))(bench)


def json_nested_deeply(bench: Bench) -> None:
    """Well under the 16 MB cap, valid JSON, nested 100,000 levels deep."""
    depth = 100_000
    write_json_text('{"model_id": "x", "revision": "y", "files": ' + '{"a": ' * depth + "1"
                    + "}" * depth + "}")(bench)


def json_huge_integer(bench: Bench) -> None:
    """A size written with 5,000 digits: valid JSON, past Python's int-parsing limit."""
    text = (bench.drive / JSON_MANIFEST).read_text()
    size = read_json_manifest(bench)["files"]["config.json"]["size_bytes"]
    write_json_text(text.replace(f'"size_bytes": {size}', '"size_bytes": ' + "9" * 5000, 1))(bench)


def mutate_json(change: Callable[[dict], object]) -> Callable[[Bench], None]:
    def damage(bench: Bench) -> None:
        document = read_json_manifest(bench)
        result = change(document)
        write_json_manifest(bench, document if result is None else result)
        rewrite_transfer(bench)
    return damage


def set_tiny(field: str, value) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        document["files"]["tiny.gguf"][field] = value
    return change


def hundred_mb(relative: str, start: bytes) -> Callable[[Bench], None]:
    """A 100 MB manifest written sparse: a plausible start, then zeros."""
    def damage(bench: Bench) -> None:
        with open(bench.drive / relative, "wb") as handle:
            handle.write(start)
            handle.truncate(HUNDRED_MB)
    return damage


def non_utf8_sums_line(relative: str, name: bytes) -> Callable[[Bench], None]:
    def damage(bench: Bench) -> None:
        with open(bench.drive / relative, "ab") as handle:
            handle.write(b"0" * 64 + b"  " + name + b"\n")
        if relative != TRANSFER:
            rewrite_transfer(bench)
    return damage


def sums_garbage_line(bench: Bench) -> None:
    with open(bench.drive / CHECKSUMS, "a") as handle:
        handle.write("this line is not a checksum\n")
    rewrite_transfer(bench)


def sums_only_with_tag_line(bench: Bench) -> None:
    """A model described by checksums.sha256 alone, with a BSD-tag line that climbs out."""
    (bench.drive / JSON_MANIFEST).unlink()
    secret = bench.outside.parent / "outside.bin"
    secret.write_bytes(b"bytes that live outside the drive\n")
    with open(bench.drive / CHECKSUMS, "a") as handle:
        handle.write(f"SHA256 (../../../outside.bin) = {digest(secret)[0]}\n")
    rewrite_transfer(bench)


def sums_escaped_newline_name(bench: Bench) -> None:
    """sha256sum's own escape for a name holding a newline, in both model manifests."""
    add_listed_entry(forged_line_name())(bench)
    assert "\\n" in (bench.drive / CHECKSUMS).read_text()  # written escaped, as sha256sum does


def non_utf8_name_on_disk(bench: Bench) -> None:
    with open(os.fsencode(bench.model) + b"/\xff\xfe-latin1-\xe9.bin", "wb") as handle:
        handle.write(b"a file whose name is not UTF-8\n")


def case_colliding_files(bench: Bench) -> None:
    shutil.copy(bench.model / "tiny.gguf", bench.model / "TINY.gguf")
    files = current_files(bench)
    list_model_files(bench, {**files, "TINY.gguf": files["tiny.gguf"]})


def case_colliding_folders(bench: Bench) -> None:
    shutil.copytree(bench.model / "tokenizer", bench.model / "Tokenizer")
    files = current_files(bench)
    list_model_files(bench, {**files, "Tokenizer/tokenizer.json": files["tokenizer/tokenizer.json"]})


def unicode_twin_files(bench: Bench) -> None:
    """café.json twice: once composed (NFC), once decomposed (NFD): two files on Linux,
    one on macOS and Windows, and the same name to the eye."""
    composed, decomposed = "caf\u00e9.json", "cafe\u0301.json"
    for name, text in ((composed, "{}\n"), (decomposed, '{"other": true}\n')):
        (bench.model / name).write_text(text)
    files = current_files(bench)
    list_model_files(bench, {**files, composed: digest(bench.model / composed),
                             decomposed: digest(bench.model / decomposed)})


def file_named(name: str) -> Callable[[Bench], None]:
    """A real file called ``name`` in the model folder, listed with its true checksum."""
    def damage(bench: Bench) -> None:
        (bench.model / name).write_text('{"note": "a file with a hostile name"}\n')
        list_model_files(bench, {**current_files(bench), name: digest(bench.model / name)})
    return damage


def deep_path(levels: int) -> str:
    return "/".join(["d"] * levels) + "/deep.json"


def code_at_the_drive_root(bench: Bench) -> None:
    """A `strongroom` package at the drive's root that, if ever imported, leaves a mark
    (the officer runs `cd /media/usb && strongroom import . --yes`)."""
    package = bench.drive / "strongroom"
    package.mkdir()
    mark = bench.outside.parent / "code-from-the-drive-ran"
    payload = f"open({str(mark)!r}, 'w').write('ran')\n"
    for name in ("__init__.py", "__main__.py"):
        (package / name).write_text(payload)


def replace_with_attention_gguf(**settings) -> Callable[[Bench], None]:
    def make(path: Path) -> None:
        write_attention_gguf(path, **settings)
    return replace_gguf(make)


def gguf_with_a_key_twice(path: Path) -> None:
    write_attention_gguf(path, metadata={"general.aaaa": "first", "general.bbbb": "second"})
    rename_in_header(path, b"general.bbbb", b"general.aaaa")


def replace_with_template(template: str) -> Callable[[Bench], None]:
    def make(path: Path) -> None:
        write_small_gguf(path, template=template)
    return replace_gguf(make)


def empty_drive(bench: Bench) -> None:
    shutil.rmtree(bench.drive)
    bench.drive.mkdir()


def no_model_manifests(bench: Bench) -> None:
    (bench.drive / JSON_MANIFEST).unlink()
    (bench.drive / CHECKSUMS).unlink()
    rewrite_transfer(bench)


def unreadable(relative: str) -> Callable[[Bench], None]:
    def damage(bench: Bench) -> None:
        os.chmod(bench.drive / relative, 0)
    return damage


def replace_gguf(make: Callable[[Path], None]) -> Callable[[Bench], None]:
    """Rewrite models/tiny/tiny.gguf and record its new bytes in every manifest."""
    def damage(bench: Bench) -> None:
        path = bench.model / "tiny.gguf"
        path.unlink()
        make(path)
        relist_as_is(bench)
    return damage


def corrupt_gguf(corruption: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        write_small_gguf(path)
        corruption(path)
    return make


def already_stored_then_damaged(bench: Bench) -> None:
    """The store already holds tiny (imported from this very drive); then the drive's copy
    is damaged. The import must still check the drive's bytes."""
    drive = open_drive(bench.drive)
    ModelStore(bench.store).import_model(drive, drive.models[0])
    flip_a_byte(bench)


GGUF = f"{MODEL}/tiny.gguf"
MODEL_FILE_CASES = [
    # paths in the model manifests
    *[pytest.param(path_case(key), id=f"path-{key}") for key in PATH_CASES],
    pytest.param(Hostile(add_listed_entry("tiny.gguf\x00.txt"), Status.UNSAFE_PATH, f"{MODEL}/tiny.gguf\x00.txt",
                         "NUL character", names=("tiny.gguf",)),
                 id="path-with-nul"),
    pytest.param(Hostile(sums_escaped_newline_name, Status.UNSAFE_PATH, f"{MODEL}/{forged_line_name()}",
                         "a control character", names=("config.json",)),
                 id="path-with-newline-forging-a-report-line"),
    pytest.param(Hostile(add_listed_entry(terminal_escape_name()), Status.UNSAFE_PATH,
                         f"{MODEL}/{terminal_escape_name()}", "a control character", names=("config.json",)),
                 id="path-with-terminal-escapes"),
    pytest.param(Hostile(json_only_with_entry("\udcff-surrogate.gguf"), Status.UNSAFE_PATH,
                         f"{MODEL}/\udcff-surrogate.gguf", "not valid UTF-8", names=("-surrogate.gguf",)),
                 id="path-with-lone-surrogate-escape"),
    pytest.param(Hostile(sums_only_with_tag_line, Status.UNSAFE_PATH, f"{MODEL}/../../../outside.bin",
                         "'..'"), id="path-dotdot-in-a-sha256sum-tag-line"),
    pytest.param(Hostile(add_listed_entry("tokenizer"), Status.NOT_REGULAR, f"{MODEL}/tokenizer",
                         "it is a folder"), id="path-names-a-folder"),
    pytest.param(Hostile(add_listed_entry("tiny.gguf/inside"), Status.NOT_REGULAR, f"{MODEL}/tiny.gguf/inside",
                         "not a folder"), id="path-through-a-file"),
    pytest.param(Hostile(add_listed_entry("n" * 300 + ".bin"), Status.UNREADABLE, f"{MODEL}/{'n' * 300}.bin",
                         "File name too long"), id="path-name-too-long"),
    # links and special files
    pytest.param(Hostile(symlink_model_file, Status.NOT_REGULAR, GGUF, "symbolic link"),
                 id="symlink-to-a-file"),
    pytest.param(Hostile(symlink_model_subfolder, Status.NOT_REGULAR, f"{MODEL}/tokenizer/tokenizer.json",
                         f"'{MODEL}/tokenizer' on its path is a symbolic link", names=(f"{MODEL}/tokenizer",),
                         refusal=("symbolic link",)),
                 id="symlink-to-a-folder"),
    pytest.param(Hostile(symlink_model_folder, Status.NOT_REGULAR, GGUF, f"'{MODEL}' on its path is a symbolic link",
                         problem=f"{MODEL} is a symbolic link", names=(MODEL,), refusal=("symbolic link",)),
                 id="model-folder-is-a-symlink"),
    pytest.param(Hostile(symlink_second_model_folder, problem="models/evil is a symbolic link",
                         names=("models/evil",)),
                 id="symlinked-model-folder-beside-a-good-one"),
    pytest.param(Hostile(symlink_models_folder, problem="is not a folder (a link?)", names=("models",)),
                 id="models-folder-is-a-symlink"),
    pytest.param(Hostile(symlink_manifest, problem="the manifest is not a regular file",
                         names=(JSON_MANIFEST,)), id="model-manifest-is-a-symlink"),
    pytest.param(Hostile(symlink_transfer_manifest, problem="the manifest is not a regular file",
                         names=(TRANSFER,)), id="transfer-manifest-is-a-symlink"),
    pytest.param(Hostile(hard_link_model_file, Status.NOT_REGULAR, GGUF, "2 hard links"), id="hard-link"),
    pytest.param(Hostile(fifo_as(f"{MODEL}/config.json"), Status.NOT_REGULAR, f"{MODEL}/config.json",
                         "FIFO"), id="fifo-as-a-model-file", marks=pytest.mark.timeout(60)),
    pytest.param(Hostile(fifo_as(JSON_MANIFEST), problem="the manifest is not a regular file",
                         names=(JSON_MANIFEST,)), id="fifo-as-the-model-manifest", marks=pytest.mark.timeout(60)),
    pytest.param(Hostile(fifo_as(TRANSFER), problem="the manifest is not a regular file", names=(TRANSFER,)),
                 id="fifo-as-the-transfer-manifest", marks=pytest.mark.timeout(60)),
    pytest.param(Hostile(character_device_as_config, Status.NOT_REGULAR, f"{MODEL}/config.json",
                         "character device"), id="device-node"),
    pytest.param(Hostile(socket_as_tokenizer, Status.NOT_REGULAR, f"{MODEL}/tokenizer/tokenizer.json",
                         "socket"),
                 id="unix-socket"),
    # content that is not what the manifests say
    pytest.param(Hostile(changes_after_open("tiny.gguf", grow), Status.SIZE_MISMATCH, GGUF,
                         "changed while it was being read", cli=False,
                         refusal=("SIZE MISMATCH", "changed while it was being copied")), id="file-grows-while-read"),
    pytest.param(Hostile(changes_after_open("tiny.gguf", shrink), Status.SIZE_MISMATCH, GGUF,
                         "changed while it was being read", cli=False,
                         refusal=("SIZE MISMATCH", "changed while it was being copied")), id="file-shrinks-while-read"),
    pytest.param(Hostile(size_mismatch, Status.SIZE_MISMATCH, f"{MODEL}/config.json", "the manifest says"),
                 id="size-mismatch"),
    pytest.param(Hostile(flip_a_byte, Status.CHECKSUM_MISMATCH, GGUF, "not what the manifest lists"),
                 id="checksum-mismatch"),
    pytest.param(Hostile(tamper_and_rewrite_transfer, Status.CHECKSUM_MISMATCH, GGUF,
                         f"matches {TRANSFER} but not {JSON_MANIFEST}"),
                 id="tampered-with-the-transfer-manifest-rewritten"),
    pytest.param(Hostile(transfer_disagrees, Status.CHECKSUM_MISMATCH, f"{MODEL}/config.json",
                         f"but not {TRANSFER}"), id="transfer-manifest-disagrees-with-model-manifests"),
    pytest.param(Hostile(transfer_lists_a_file_the_model_does_not, names=(f"{MODEL}/evil.py",)),
                 id="transfer-manifest-lists-a-file-the-model-manifests-do-not"),
    pytest.param(Hostile(transfer_lists_unsafe_path, Status.UNSAFE_PATH, None, "absolute path",
                         names=("outside.bin",)),
                 id="transfer-manifest-lists-an-absolute-path"),
    pytest.param(Hostile(add_extra_file(f"{MODEL}/evil.py"), Status.EXTRA, f"{MODEL}/evil.py",
                         "not listed"), id="extra-file"),
    pytest.param(Hostile(add_extra_file(f"{MODEL}/tokenizer/.hidden"), Status.EXTRA,
                         f"{MODEL}/tokenizer/.hidden", "not listed"), id="extra-hidden-file-in-a-subfolder"),
    pytest.param(Hostile(remove_file, Status.MISSING, f"{MODEL}/config.json", "not on the drive"),
                 id="missing-file"),
    pytest.param(Hostile(already_stored_then_damaged, Status.CHECKSUM_MISMATCH, GGUF),
                 id="damaged-copy-of-a-model-already-in-the-store"),
    # manifests that cannot be used
    pytest.param(Hostile(duplicate_json_key, problem="the entry 'tiny.gguf' appears twice",
                         names=(JSON_MANIFEST, "tiny.gguf")), id="duplicate-key-in-json"),
    pytest.param(Hostile(duplicate_sums_line(different=False), problem="'tiny.gguf' is listed twice (line",
                         names=(CHECKSUMS, "tiny.gguf")), id="duplicate-line-in-sha256sum"),
    pytest.param(Hostile(duplicate_sums_line(different=True),
                         problem="'tiny.gguf' is listed twice with different checksums",
                         names=(CHECKSUMS, "tiny.gguf")), id="duplicate-with-other-checksum-in-sha256sum"),
    pytest.param(Hostile(duplicate_transfer_line, problem=f"'{MODEL}/tiny.gguf' is listed twice",
                         names=(TRANSFER,)), id="duplicate-line-in-transfer-manifest"),
    pytest.param(Hostile(duplicate_through_dot_slash, names=("tiny.gguf",)),
                 id="duplicate-spelled-with-dot-slash"),
    pytest.param(Hostile(sums_disagree_about_checksum, problem="disagree about 'tiny.gguf'",
                         names=("airgap_manifest.json", "checksums.sha256", "tiny.gguf")),
                 id="json-and-sha256sum-disagree-on-a-checksum"),
    # (One manifest listing a file the other does not is no disagreement: see test_seed_drives.)
    pytest.param(Hostile(truncated_json, problem="the manifest is not valid JSON", names=(JSON_MANIFEST,)),
                 id="invalid-json-truncated"),
    pytest.param(Hostile(write_json_text(""), problem="the manifest is not valid JSON", names=(JSON_MANIFEST,)),
                 id="invalid-json-empty-file"),
    pytest.param(Hostile(json_in_utf16, problem="the manifest is not UTF-8 text", names=(JSON_MANIFEST,)),
                 id="json-in-utf16"),
    pytest.param(Hostile(json_nested_deeply, problem="airgap_manifest.json", names=(JSON_MANIFEST,)),
                 id="json-nested-100000-deep"),
    pytest.param(Hostile(json_huge_integer, problem="airgap_manifest.json", names=(JSON_MANIFEST,)),
                 id="json-size-with-5000-digits"),
    pytest.param(Hostile(mutate_json(lambda d: [d]), problem="must be a JSON object",
                         names=(JSON_MANIFEST,)), id="type-document-is-a-list"),
    pytest.param(Hostile(mutate_json(lambda d: d.update(model_id=None)), problem="'model_id' must be text",
                         names=(JSON_MANIFEST,)), id="type-model-id-null"),
    pytest.param(Hostile(mutate_json(lambda d: d.update(revision=3)), problem="'revision' must be text",
                         names=(JSON_MANIFEST,)), id="type-revision-number"),
    pytest.param(Hostile(mutate_json(lambda d: d.update(files=list(d["files"]))),
                         problem="'files' must be an object", names=(JSON_MANIFEST,)), id="type-files-is-a-list"),
    pytest.param(Hostile(mutate_json(lambda d: d.update(files={})), problem="'files' must be an object listing at least one",
                         names=(JSON_MANIFEST,)), id="type-files-empty"),
    pytest.param(Hostile(mutate_json(lambda d: d["files"].update({"tiny.gguf": "e3b0c442"})),
                         problem="entry 'tiny.gguf' must be an object", names=(JSON_MANIFEST,)),
                 id="type-entry-is-a-string"),
    pytest.param(Hostile(mutate_json(set_tiny("sha256", 12345)), problem="'tiny.gguf': sha256 must be 64",
                         names=(JSON_MANIFEST,)), id="type-sha256-number"),
    pytest.param(Hostile(mutate_json(set_tiny("sha256", "ab" * 31)), problem="'tiny.gguf': sha256 must be 64",
                         names=(JSON_MANIFEST,)), id="type-sha256-too-short"),
    pytest.param(Hostile(mutate_json(set_tiny("sha256", "g" * 64)), problem="'tiny.gguf': sha256 must be 64",
                         names=(JSON_MANIFEST,)), id="type-sha256-not-hex"),
    pytest.param(Hostile(mutate_json(set_tiny("size_bytes", "1088")), problem="'tiny.gguf': size_bytes must be",
                         names=(JSON_MANIFEST,)), id="type-size-string"),
    pytest.param(Hostile(mutate_json(set_tiny("size_bytes", True)), problem="'tiny.gguf': size_bytes must be",
                         names=(JSON_MANIFEST,)), id="type-size-boolean"),
    pytest.param(Hostile(mutate_json(set_tiny("size_bytes", -1)), problem="'tiny.gguf': size_bytes must be",
                         names=(JSON_MANIFEST,)), id="type-size-negative"),
    pytest.param(Hostile(mutate_json(set_tiny("size_bytes", 1088.0)), problem="'tiny.gguf': size_bytes must be",
                         names=(JSON_MANIFEST,)), id="type-size-float"),
    pytest.param(Hostile(mutate_json(set_tiny("size_bytes", None)), problem="'tiny.gguf': size_bytes must be",
                         names=(JSON_MANIFEST,)), id="type-size-null"),
    pytest.param(Hostile(hundred_mb(JSON_MANIFEST, b'{"model_id": "x", "revision": "y", "files": {'),
                         problem="refused unread", names=(JSON_MANIFEST,)), id="huge-json-manifest"),
    pytest.param(Hostile(hundred_mb(CHECKSUMS, b"0" * 64 + b"  tiny.gguf\n"), problem="refused unread",
                         names=(CHECKSUMS,)), id="huge-sha256sum-manifest"),
    pytest.param(Hostile(hundred_mb(TRANSFER, b"0" * 64 + b"  models/tiny/tiny.gguf\n"),
                         problem="refused unread", names=(TRANSFER,)), id="huge-transfer-manifest"),
    pytest.param(Hostile(non_utf8_sums_line(CHECKSUMS, b"caf\xe9.bin"), problem="is not valid UTF-8",
                         names=(CHECKSUMS,)), id="non-utf8-name-in-sha256sum"),
    pytest.param(Hostile(non_utf8_sums_line(TRANSFER, b"models/tiny/caf\xe9.bin"), problem="is not valid UTF-8",
                         names=(TRANSFER,)), id="non-utf8-name-in-transfer-manifest"),
    pytest.param(Hostile(sums_garbage_line, problem="is not a sha256sum line", names=(CHECKSUMS,)),
                 id="sha256sum-garbage-line"),
    pytest.param(Hostile(non_utf8_name_on_disk, Status.EXTRA, f"{MODEL}/\\xff\\xfe-latin1-\\xe9.bin"),
                 id="non-utf8-file-name-on-disk"),
    pytest.param(Hostile(case_colliding_files, Status.UNSAFE_PATH, GGUF,
                         f"the same name as '{MODEL}/TINY.gguf' once letter case", names=(GGUF, "TINY.gguf")),
                 id="case-colliding-file-names"),
    pytest.param(Hostile(case_colliding_folders, Status.UNSAFE_PATH, f"{MODEL}/tokenizer/tokenizer.json",
                         "once letter case and Unicode forms are ignored", names=("tokenizer/tokenizer.json", "Tokenizer/tokenizer.json")),
                 id="case-colliding-folder-names"),
    pytest.param(Hostile(unicode_twin_files, Status.UNSAFE_PATH, f"{MODEL}/caf\u00e9.json",
                         "once letter case and Unicode forms are ignored",
                         names=("caf",)),
                 id="unicode-nfc-nfd-twin-names"),
    pytest.param(Hostile(file_named("evil\u202enosj.gguf"), Status.UNSAFE_PATH, None,
                         "bidirectional or other invisible formatting character (U+202E)",
                         names=("\\u202e",)),
                 id="name-with-right-to-left-override"),
    pytest.param(Hostile(file_named("config\x7f.json"), Status.UNSAFE_PATH, None,
                         "a control character (U+007F)", names=("\\x7f",)),
                 id="name-with-del"),
    pytest.param(Hostile(file_named("config\x9b31m.json"), Status.UNSAFE_PATH, None,
                         "a control character (U+009B)", names=("\\x9b",)),
                 id="name-with-c1-control"),
    pytest.param(Hostile(file_named("zero\u200bwidth.json"), Status.UNSAFE_PATH, None,
                         "invisible formatting character (U+200B)", names=("\\u200b",)),
                 id="name-with-zero-width-space"),
    pytest.param(Hostile(file_named("CON.json"), Status.UNSAFE_PATH, f"{MODEL}/CON.json",
                         "a name Windows reserves"), id="name-reserved-by-windows"),
    pytest.param(Hostile(file_named("config.json."), Status.UNSAFE_PATH, f"{MODEL}/config.json.",
                         "trailing dot or space"), id="name-with-trailing-dot"),
    pytest.param(Hostile(file_named("provenance.json"), Status.UNSAFE_PATH, f"{MODEL}/provenance.json",
                         "the record the model store keeps"), id="model-file-named-provenance-json"),
    pytest.param(Hostile(add_listed_entry(deep_path(1900)), Status.UNSAFE_PATH, None,
                         "the path is 3,809 characters long", names=("d/d/d/d",)),
                 id="path-1900-levels-deep"),
    pytest.param(Hostile(add_listed_entry(deep_path(40)), Status.UNSAFE_PATH, None,
                         "41 folders deep; at most 32", names=("d/d/d/d",)),
                 id="path-41-levels-deep"),
    pytest.param(Hostile(add_listed_entry("/".join(c * 200 for c in "uvwxyz") + ".json"),
                         Status.UNSAFE_PATH, None, "characters long; at most 1,024", names=("uuuu",)),
                 id="path-over-1024-characters"),
    pytest.param(Hostile(code_at_the_drive_root, Status.EXTRA, "strongroom/__init__.py",
                         "not listed", refusal=("EXTRA", "strongroom/__init__.py"), store_refuses=False),
                 id="python-package-at-the-drive-root"),
    pytest.param(Hostile(add_extra_file("autorun.sh"), Status.EXTRA, "autorun.sh", "not listed",
                         refusal=("EXTRA", "autorun.sh"), store_refuses=False),
                 id="unlisted-file-at-the-drive-root"),
    pytest.param(Hostile(empty_drive, problem="holds nothing to verify"), id="empty-drive"),
    pytest.param(Hostile(no_model_manifests, problem="there is no airgap_manifest.json or checksums.sha256",
                         names=(MODEL,)), id="model-folder-without-manifests"),
    # reading fails
    pytest.param(Hostile(unreadable(f"{MODEL}/config.json"), Status.UNREADABLE, f"{MODEL}/config.json",
                         "Permission denied", unprivileged=True), id="unreadable-file"),
    pytest.param(Hostile(unreadable(f"{MODEL}/tokenizer"), Status.UNREADABLE, f"{MODEL}/tokenizer/tokenizer.json",
                         "Permission denied", names=(f"{MODEL}/tokenizer",), unprivileged=True),
                 id="unreadable-folder"),
    pytest.param(Hostile(unreadable(JSON_MANIFEST), problem="cannot be read (Permission denied)",
                         names=(JSON_MANIFEST,), unprivileged=True), id="unreadable-manifest"),
    # GGUF headers: consistent with the manifests; the header check must refuse them
    pytest.param(Hostile(replace_gguf(lambda p: p.write_bytes(b"PK\x03\x04" + b"a zip, not a model\n" * 50)),
                         header="this is not a GGUF model file"), id="gguf-not-a-gguf-file"),
    pytest.param(Hostile(replace_gguf(lambda p: p.write_bytes(b"")), header="this is not a GGUF model file"),
                 id="gguf-empty-file"),
    *[pytest.param(Hostile(replace_gguf(corrupt_gguf(corruption)), header=fragment),
                   id=f"gguf-cve-{name.replace(' ', '-')}")
      for name, (corruption, fragment) in CORRUPTIONS.items()],
    # GGUF headers that are well formed but describe no possible model
    pytest.param(Hostile(replace_with_attention_gguf(metadata={"llama.context_length": (0, UINT32)}),
                         header="llama.context_length is 0"), id="gguf-context-of-zero-tokens"),
    pytest.param(Hostile(replace_with_attention_gguf(heads=0), header="head_count is 0"),
                 id="gguf-zero-attention-heads"),
    pytest.param(Hostile(replace_with_attention_gguf(tokens=4), header="4 tokens but the tensor token_embd"),
                 id="gguf-token-list-shorter-than-the-vocabulary"),
    pytest.param(Hostile(replace_gguf(gguf_with_a_key_twice), header="'general.aaaa' appears twice"),
                 id="gguf-duplicate-metadata-key"),
    # chat templates that would hang or flood the app
    *[pytest.param(Hostile(replace_with_template(source), header="chat template"),
                   id=f"gguf-template-{name}") for name, source in HOSTILE_TEMPLATES.items()],
]


# -- reading the drive the way the app does, with or without root's override ----------------------

# `strongroom` run with the override dropped in its main thread before anything starts.
UNPRIVILEGED_CLI = (
    "from tests.helpers.privileges import drop_file_permission_override\n"
    "drop_file_permission_override()\n"
    "import runpy, sys\n"
    "sys.argv = ['strongroom', *sys.argv[1:]]\n"
    "runpy.run_module('strongroom', run_name='__main__')\n"
)


def strongroom_cli(bench: Bench, *args: str, unprivileged: bool = False) -> tuple[int, str]:
    """Run the `strongroom` command on this bench's home; (exit status, all output). The
    timeout guards against a hang (a FIFO opened for reading)."""
    command = [sys.executable, "-c", UNPRIVILEGED_CLI] if unprivileged else [sys.executable, "-m", "strongroom"]
    result = subprocess.run([*command, *args], cwd=REPO, capture_output=True, timeout=120,
                            env={**os.environ, "STRONGROOM_HOME": str(bench.home)})
    output = (result.stdout + result.stderr).decode("utf-8", "backslashreplace")
    return result.returncode, output


def attempt_import(drive_path: Path, store_root: Path) -> str:
    """Import every model the drive offers straight into the store, expecting each to be
    refused; return the refusal messages. A drive offering no model is refused before any
    import can start (as `strongroom import` and the wizard stop): then its problems are
    the message."""
    drive = open_drive(drive_path)
    if not drive.models:
        assert drive.problems, "a drive that offers no model must say why"
        return "\n".join(drive.problems)
    store = ModelStore(store_root)
    messages = []
    for model in drive.models:
        with pytest.raises(ImportRefused) as refused:
            store.import_model(drive, model)
        messages.append(str(refused.value))
    return "\n".join(messages)


def attempt_workflow_import(drive_path: Path, store_root: Path) -> str:
    """Import every model the drive offers the way the wizard and `strongroom import` do,
    expecting the workflow to end FAILED; return its message and the files it blames."""
    workflow = ImportWorkflow(ModelStore(store_root), drive_finder=lambda: [])
    problem = workflow.choose_drive(drive_path)
    if problem is not None:
        return problem
    workflow.choose_models([model.name for model in workflow.offered()])
    workflow.advance_to(Step.VERIFY)
    workflow.run_verify()
    if workflow.step is not Step.FAILED:
        workflow.advance_to(Step.IMPORT)
        workflow.run_import()
    assert workflow.step is Step.FAILED, f"the import went through: {workflow.imported}"
    return "\n".join([workflow.failure, *(f.line() for f in workflow.failed_files)])


# -- checking what the app says -----------------------------------------------------------------

def assert_printable(text: str, failure_only: bool = True) -> None:
    """A message is UTF-8 text without control characters (other than line breaks) and, if
    it reports only a failure, cannot forge a success line."""
    text.encode("utf-8")  # a lone surrogate cannot be printed
    controls = sorted({hex(ord(c)) for c in text if (ord(c) < 32 and c != "\n") or ord(c) == 127})
    assert not controls, f"control characters {controls} in the message:\n{text!r}"
    if failure_only:
        forged = [line for line in text.splitlines() if line.startswith("All ") and "verified" in line]
        assert not forged, f"a success line appears in a failure message: {forged}"


def assert_mentions(text: str, case: Hostile, where: str) -> None:
    for name in case.must_mention():
        assert name in text, f"the {where} does not name {name!r}:\n{text}"


def check_verification(case: Hostile, bench: Bench, report: CheckReport) -> None:
    summary = report.summary()
    if case.header is not None:
        # The files are what the manifests say; the header check is what refuses them.
        check = check_gguf(bench.model / "tiny.gguf")
        assert not check.ok and case.header in check.problem, check
        return
    assert not report.ok, summary
    assert_printable(summary)
    assert summary.splitlines()[-1].startswith("VERIFICATION FAILED"), summary
    if case.status is not None:
        about = [r for r in report.results if not r.ok and (case.entry is None or r.path == case.entry)]
        assert about, f"no failure reported for {case.entry!r}:\n{summary}"
        assert any(r.status is case.status and case.detail in r.detail for r in about), summary
    if case.problem is not None:
        assert any(case.problem in p for p in report.problems), summary
    assert_mentions(summary, case, "report")
    if not case.must_mention():  # e.g. the empty drive: the drive itself is the entry
        assert str(bench.drive) in summary


def check_refusal(case: Hostile, message: str, workflow: bool = False) -> None:
    assert_printable(message)
    says = case.refusal_says()
    if workflow and case.header is not None:
        says = (f"{GGUF} was refused before loading", case.header)
    elif workflow and case.status is not None:  # the workflow's verification finds it first
        says = ()  # (or, when the drive offers no model, its choice of drive does)
        assert case.status.value in message or (case.problem or "\0") in message, message
    for text in says:
        assert text in message, message
    assert_mentions(message, case, "refusal")


@pytest.mark.parametrize("case", MODEL_FILE_CASES)
def test_a_hostile_drive_is_refused_and_the_store_is_unchanged(case: Hostile, bench: Bench):
    case.damage(bench)

    # (a) verification fails, naming the entry
    report = as_reader(case.unprivileged, lambda: verify_drive(open_drive(bench.drive)))
    check_verification(case, bench, report)

    # (b) the import is refused, naming the entry, by the store itself and by the import
    # workflow; (c) nothing in the store changes
    before = snapshot(bench.store)
    if case.store_refuses:
        message = as_reader(case.unprivileged, lambda: attempt_import(bench.drive, bench.store))
        check_refusal(case, message)
        assert snapshot(bench.store) == before
    message = as_reader(case.unprivileged, lambda: attempt_workflow_import(bench.drive, bench.store))
    check_refusal(case, message, workflow=True)
    assert snapshot(bench.store) == before
    assert not any(bench.store.joinpath("staging").iterdir())

    # (d) the command line agrees
    if case.cli:
        # The workstation has begun its log (`verify` only looks: it would start none).
        strongroom_cli(bench, "audit", "init", unprivileged=case.unprivileged)
        status, output = strongroom_cli(bench, "verify", str(bench.drive), unprivileged=case.unprivileged)
        if case.header is None:
            assert status != 0, output
        assert "Traceback" not in output, output
        assert_printable(output, failure_only=case.header is None)
        assert_mentions(output, case, "`strongroom verify` output")
        audit_log = bench.home / "data" / "audit" / "audit.log"
        logged_before = audit_log.read_bytes() if audit_log.exists() else b""
        status, output = strongroom_cli(bench, "import", str(bench.drive), "--yes",
                                        unprivileged=case.unprivileged)
        assert status != 0, output
        # The log keeps every earlier byte and gains only the refusal's record.
        logged = audit_log.read_bytes()
        assert logged.startswith(logged_before)
        added = [json.loads(line) for line in logged[len(logged_before):].splitlines()]
        outcomes = {(e["event"], e["details"].get("outcome")) for e in added}
        if open_drive(bench.drive).models:  # (a drive offering none is refused unopened)
            assert ("model_import", "refused") in outcomes, added
        assert outcomes <= {("model_verify", None), ("model_import", "refused")}, added
        assert "Traceback" not in output, output
        # A bad GGUF header is found after the files verified: that line is true.
        assert_printable(output, failure_only=case.header is None)
        assert_mentions(output, case, "`strongroom import` output")
        assert snapshot(bench.store) == before
        assert not any(bench.store.joinpath("staging").iterdir())


def test_a_100_mb_manifest_is_refused_without_being_read(bench: Bench):
    """Refused from its size alone: quickly, and without reading (or parsing) its bytes."""
    hundred_mb(JSON_MANIFEST, b'{"model_id": "x", "revision": "y", "files": {')(bench)
    opened_for_reading = []
    real_open = open

    def watching_open(file, *args, **kwargs):
        if str(file).endswith("airgap_manifest.json"):
            opened_for_reading.append(file)
        return real_open(file, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("builtins.open", watching_open)
        started = time.monotonic()
        drive = open_drive(bench.drive)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert opened_for_reading == []
    problem, = drive.models[0].problems
    assert "the manifest is 105 MB; manifests are at most 16 MB" in problem and JSON_MANIFEST in problem
