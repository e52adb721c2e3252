"""`strongroom --self-test`: is this installation whole, offline, and able to answer?

Run after carrying the app onto a workstation (from the bundle or the wheelhouse). Each
check prints one line, OK or FAILED with the reason; the exit status is 0 only if all pass.
The model check answers with the store's active chat model (or the file given with
--model); where the store has none yet, it says so.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Callable

import strongroom
from strongroom.core.offline import OFFLINE_ENVIRONMENT, EgressGuard
from strongroom.core.paths import app_paths

Say = Callable[[str], None]


def _check_imports() -> str:
    names = [m.name for m in pkgutil.walk_packages(strongroom.__path__, "strongroom.")
             if not m.name.endswith("__main__")]  # importing it would run the app
    for name in names:
        importlib.import_module(name)
    return f"{len(names)} modules"


def _check_offline() -> str:
    wrong = [k for k, v in OFFLINE_ENVIRONMENT.items() if os.environ.get(k) != v]
    if wrong:
        raise RuntimeError(f"not set: {', '.join(wrong)}")
    guard = EgressGuard.install()
    probe = socket.socket()
    try:
        probe.setblocking(False)
        probe.connect_ex(("203.0.113.1", 443))  # TEST-NET-3: never routed anywhere
    except PermissionError:
        return "offline switches set; an outbound connection was refused by the egress guard"
    finally:
        probe.close()
        guard.blocked.clear()
    raise RuntimeError("the egress guard let an outbound connection through")


def _check_llama() -> str:
    from strongroom.core.inference import llama_runtime

    module = llama_runtime.llama_module()
    gpu = "GPU offload available" if module.llama_supports_gpu_offload() else "CPU only"
    return f"llama-cpp-python {module.__version__}, {gpu}"


def _check_qt() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QLabel

    from strongroom.ui.common.resources import resource

    app = QApplication.instance() or QApplication(["strongroom-self-test"])
    label = QLabel("Strongroom")
    image = label.grab().toImage()
    label.deleteLater()
    if image.isNull():
        raise RuntimeError("Qt could not draw a widget")
    if resource("strongroom.qss") is None or resource("icons/strongroom-256.png") is None:
        raise RuntimeError("the resources folder (style, icons) is missing")
    from strongroom.ui.chat.code_blocks import line_spans

    (spans,) = list(line_spans("python", "def check(): return 1"))
    if "keyword" not in {name for *_span, name in spans}:
        raise RuntimeError("code in answers cannot be coloured (the Pygments lexers are missing)")
    return (f"Qt draws on the {app.platformName()} platform; style, icons and code colouring "
            "are present")


def _check_display() -> str:
    """The window's real platform: when there is an X11 display, the xcb plugin must find
    every system library it links to (the Qt check above draws offscreen, without them)."""
    if not os.environ.get("DISPLAY"):
        return "no X11 display in this session (nothing more to check for the window)"
    from PySide6.QtCore import QLibraryInfo

    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    missing = missing_libraries(plugin)
    if missing:
        raise RuntimeError(
            f"the window cannot open on this display: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed ({install_hint(missing)})")
    return f"the X11 platform finds every system library it needs ({plugin.name})"


def missing_libraries(library: Path) -> list[str]:
    """The shared libraries ``library`` links to that this system does not have."""
    import subprocess

    listing = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=30)
    return sorted({line.split()[0] for line in listing.stdout.splitlines() if "not found" in line})


def install_hint(missing: list[str]) -> str:
    """The command that installs ``missing`` on this system's family of distributions."""
    if is_fedora_like():
        packages = sorted({fedora_package(name) for name in missing})
        return f"Fedora/RHEL: sudo dnf install {' '.join(packages)}"
    return f"Debian/Ubuntu: sudo apt install {' '.join(debian_package(name) for name in missing)}"


def is_fedora_like(os_release: Path = Path("/etc/os-release")) -> bool:
    try:
        text = os_release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    family = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".replace('"', "").split()
    return any(name in family for name in ("fedora", "rhel", "centos"))


# Fedora packs the xcb utility libraries by project, not one package per library.
_FEDORA_PACKAGES = {
    "libxcb-cursor": "xcb-util-cursor", "libxcb-icccm": "xcb-util-wm",
    "libxcb-ewmh": "xcb-util-wm", "libxcb-keysyms": "xcb-util-keysyms",
    "libxcb-image": "xcb-util-image", "libxcb-render-util": "xcb-util-renderutil",
    "libxcb-util": "xcb-util", "libEGL": "libglvnd-egl", "libGL": "libglvnd-glx",
    "libGLX": "libglvnd-glx", "libGLdispatch": "libglvnd", "libdbus-1": "dbus-libs",
    "libfontconfig": "fontconfig", "libfreetype": "freetype", "libX11-xcb": "libX11-xcb",
}


def fedora_package(soname: str) -> str:
    """libxcb-icccm.so.4 → xcb-util-wm; libxcb-shape.so.0 → libxcb (the core's extensions)."""
    base = soname.partition(".so")[0]
    if base in _FEDORA_PACKAGES:
        return _FEDORA_PACKAGES[base]
    return "libxcb" if base.startswith("libxcb") else base


def debian_package(soname: str) -> str:
    """libxcb-icccm.so.4 → libxcb-icccm4; libxkbcommon-x11.so.0 → libxkbcommon-x11-0."""
    base, _, version = soname.partition(".so.")
    return f"{base}-{version}" if base[-1:].isdigit() else f"{base}{version}"


def _check_encryption() -> str:
    """SQLCipher encrypts (a page written holds no plaintext) and the full-text index works."""

    from strongroom.core.chats.conversation_store import ConversationStore

    with tempfile.TemporaryDirectory(prefix="strongroom-self-test-") as folder:
        path = Path(folder) / "probe.sqlite3"
        store = ConversationStore(path, bytes(range(32)))
        conversation = store.create_conversation()
        store.add_message(conversation.id, "user", "self-test marker 5b2e")
        found = store.conversations("marker 5b2e")
        store.close()
        if not found:
            raise RuntimeError("the full-text index did not find the message")
        if b"marker 5b2e" in path.read_bytes() or path.read_bytes().startswith(b"SQLite format 3"):
            raise RuntimeError("the conversations database is not encrypted")
    import sqlcipher3

    return f"SQLCipher (SQLite {sqlcipher3.sqlite_version}) encrypts; full-text search works"


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the first the catalogue) with a correct
    cross-reference table, written by hand: the app has no PDF writer."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table)
    return bytes(out)


def _probe_pdf(text: str) -> bytes:
    """A one-page PDF holding ``text``."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def _check_documents() -> str:
    from strongroom.core.documents.reading import read_document

    with tempfile.TemporaryDirectory(prefix="strongroom-self-test-") as folder:
        path = Path(folder) / "probe.pdf"
        path.write_bytes(_probe_pdf("Strongroom self-test 7c41"))
        document = read_document(path)
    if "self-test 7c41" not in document.sections[0].text:
        raise RuntimeError("the text of a PDF was not read")
    return "a PDF's text is read in the limited child process"


def _check_model(path: Path, expected_sha256: str | None = None, name: str | None = None) -> str:
    from strongroom.core.inference.engine import Engine, LoadOptions, SamplingOptions

    engine = Engine.load(path, LoadOptions(context_length=512), expected_sha256=expected_sha256)
    try:
        answer = engine.chat([{"role": "user", "content": "Say OK."}],
                             SamplingOptions(max_tokens=8, temperature=0.0, seed=1),
                             threading.Event(), lambda text: None)
    finally:
        engine.close()
    if answer.stats.completion_tokens < 1:
        raise RuntimeError("the model produced no tokens")
    return (f"{name or path.name}: {answer.stats.completion_tokens} tokens on "
            f"{engine.device_label}, {answer.stats.tokens_per_second or 0:.0f} tokens/s")


def _store_model():
    """The first chat model the store offers (an active version), or None; nothing is
    created where the store does not exist."""
    from strongroom.core.store.catalog import catalog_from_store
    from strongroom.core.store.model_store import ModelStore

    usable = catalog_from_store(ModelStore(app_paths().store_dir, create=False)).usable()
    return usable[0] if usable else None


def _check_store_model() -> str:
    identity = _store_model()
    if identity is None:
        return ("no chat model is active in the store yet (import one, then test and promote "
                "it; --model FILE checks a file)")
    return _check_model(identity.path, identity.sha256,
                        f"{identity.name} (the store's active version)")


def _check_audit_log() -> str:
    from strongroom.core.audit.verifier import verify_log

    path = app_paths().audit_log
    if not path.is_file():
        return "no audit log yet (it is created on first use)"
    report = verify_log(path)
    if not report.ok:
        first = report.first_break
        raise RuntimeError(f"the audit log {path} is broken at line {first.line}: {first.message}")
    return f"{report.entries:,} entries hold (chain checked; give the key to `audit verify` for MACs)"


def run_self_test(model: Path | None, say: Say = print) -> bool:
    checks = [("imports", _check_imports), ("offline", _check_offline),
              ("llama.cpp", _check_llama), ("Qt", _check_qt), ("display", _check_display),
              ("encryption", _check_encryption), ("documents", _check_documents)]
    checks.append(("model", (lambda: _check_model(model)) if model is not None
                   else _check_store_model))
    checks.append(("audit log", _check_audit_log))
    passed = True
    for name, check in checks:
        try:
            say(f"OK      {name}: {check()}")
        except Exception as error:  # a self-test reports every failure, whatever its type
            passed = False
            say(f"FAILED  {name}: {error}")
    say("Self-test passed." if passed else "Self-test FAILED: see the lines above.")
    return passed
