"""The workstation's security posture in one report: each item green (as it should be),
amber (allowed, but the officer should know) or red (not the state to sign off), with a
one-line reason. `strongroom compliance` prints it or writes it as JSON or HTML; the
window shows it under Help → Compliance.

Everything is read from this computer: the process environment, /proc and /sys, OpenSSL,
the secret store, the trust list, the conversation database's first bytes, the model
store, and one pass over the audit log (blocked connections since install, the last
validation and checkpoint, the last recorded digest of the model states).
"""

from __future__ import annotations

import html
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from strongroom import __version__
from strongroom.core.audit.reader import entries_of
from strongroom.core.chats.database import ConversationStoreError, is_plaintext_database
from strongroom.core.display import printable
from strongroom.core.offline import OFFLINE_ENVIRONMENT, EgressGuard
from strongroom.core.remote.servers import ServerError
from strongroom.core.store.lifecycle import ACTIVE, STAGED, Lifecycle, LifecycleError
from strongroom.core.store.smoke_test import describe as describe_smoke_test
from strongroom.core.transfer.signatures import SigningError, shown_fingerprint
from strongroom.core.workspace import Workspace

GREEN, AMBER, RED = "green", "amber", "red"
VALIDATION_MAX_AGE = timedelta(days=30)


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    status: str
    reason: str
    details: dict = field(default_factory=dict)


@dataclass
class ComplianceReport:
    created_at: str
    host: str
    user: str
    version: str
    checks: list[Check]

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in (GREEN, AMBER, RED)}

    def as_dict(self) -> dict:
        return {"format": "strongroom.compliance", "format_version": 1,
                "created_at": self.created_at, "host": self.host, "user": self.user,
                "strongroom": self.version, "summary": self.counts,
                "checks": [asdict(c) for c in self.checks]}

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def record_saved(self, auditor, path: Path, kind: str) -> None:
        """Note in the audit log that this report was saved (best effort: a report about a
        broken log must still be written, and it says the log is broken)."""
        from strongroom.core.audit.events import AuditUnavailable

        try:
            auditor.compliance_report(path, kind, self.counts,
                                      [c.id for c in self.checks if c.status == RED])
        except AuditUnavailable:
            pass

    def as_text(self) -> str:
        lines = [f"Strongroom {self.version} compliance report for {self.host}, by {self.user}, "
                 f"{self.created_at}", ""]
        for check in self.checks:
            lines.append(f"[{check.status.upper():5}] {check.title}: {check.reason}")
        counts = self.counts
        lines += ["", f"{counts[GREEN]} green, {counts[AMBER]} amber, {counts[RED]} red"]
        return "\n".join(lines)

    def as_html(self) -> str:
        """A page that stands alone (no scripts, fonts or anything fetched)."""
        colours = {GREEN: "#1b7f3b", AMBER: "#a86400", RED: "#b00020"}
        rows = "\n".join(
            f"<tr><td style=\"color:{colours[c.status]};font-weight:bold\">{c.status.upper()}</td>"
            f"<td>{html.escape(c.title)}</td><td>{html.escape(c.reason)}</td></tr>"
            for c in self.checks)
        counts = self.counts
        return (
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>Strongroom compliance report</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}"
            "</style></head><body>\n"
            f"<h1>Strongroom compliance report</h1>\n<p>Workstation {html.escape(self.host)}, "
            f"checked by {html.escape(self.user)} at {html.escape(self.created_at)} with "
            f"Strongroom {html.escape(self.version)}.</p>\n"
            f"<p>{counts[GREEN]} green, {counts[AMBER]} amber, {counts[RED]} red.</p>\n"
            "<table><tr><th>Status</th><th>Item</th><th>Why</th></tr>\n"
            f"{rows}\n</table>\n<p>Signed off by: ______________________ Date: __________</p>\n"
            "</body></html>\n")


@dataclass
class _LogFacts:
    blocked: int = 0
    last_validation: dict | None = None
    last_checkpoint: dict | None = None
    lifecycle_sha256: str | None = None
    lifecycle_recorded: bool = False


def build_report(workspace: Workspace, guard: EgressGuard | None,
                 now: datetime | None = None, proc: Path = Path("/proc"),
                 sys_class_net: Path = Path("/sys/class/net")) -> ComplianceReport:
    now = now or datetime.now(timezone.utc)
    facts = _read_log(workspace.paths.audit_log)
    checks = [
        _offline_environment(),
        _egress(guard, facts),
        _servers(workspace, guard),
        _network(proc, sys_class_net),
        _fips(proc),
        _keys(workspace),
        _trust(workspace),
        _conversations(workspace),
        _documents(workspace),
        _lock(workspace),
        _recorded_text(workspace),
        _audit_log(workspace),
        _validation(facts, now),
        _checkpoint(facts),
        *_models(workspace, facts),
    ]
    import getpass

    return ComplianceReport(now.isoformat(timespec="seconds"), socket.gethostname(),
                            getpass.getuser(), __version__, checks)


# -- the checks ------------------------------------------------------------------------------

def _offline_environment() -> Check:
    wrong = {name: os.environ.get(name) for name, value in OFFLINE_ENVIRONMENT.items()
             if os.environ.get(name) != value}
    if wrong:
        return Check("offline_environment", "Offline switches", RED,
                     "not in effect: " + ", ".join(f"{n}={v!r}" for n, v in wrong.items()), wrong)
    return Check("offline_environment", "Offline switches", GREEN,
                 f"{', '.join(OFFLINE_ENVIRONMENT)} are set, before any Hugging Face library loads",
                 dict(OFFLINE_ENVIRONMENT))


def _egress(guard: EgressGuard | None, facts: _LogFacts) -> Check:
    title = "Network guard"
    details = {"blocked_this_session": len(guard.blocked) if guard else None,
               "blocked_since_install": facts.blocked}
    if guard is None or not guard.enabled:
        return Check("egress_guard", title, RED, "the guard that blocks connections is not on",
                     details)
    if guard.blocked or facts.blocked:
        return Check("egress_guard", title, AMBER,
                     f"on; it blocked {len(guard.blocked)} connection attempt(s) this session and "
                     f"{facts.blocked} since install (each one is in the audit log)", details)
    return Check("egress_guard", title, GREEN, "on; no connection attempt ever blocked", details)


def _servers(workspace: Workspace, guard: EgressGuard | None) -> Check:
    """The inference servers prompts may go to, and that the guard allows exactly those."""
    title = "Inference servers"
    try:
        servers = workspace.servers.servers()
    except ServerError as error:
        return Check("servers", title, RED, str(error))
    configured = {(s.host.lower(), s.port) for s in servers}
    details = {"servers": [{"name": s.name, "url": s.url, "trust": s.trust,
                            "api_key": workspace.servers.api_key(s) is not None,
                            "added": s.added, "added_by": s.added_by} for s in servers],
               "guard_allows": sorted(f"{h}:{p}" for h, p in guard.allowed_servers) if guard else []}
    if guard is not None and guard.allowed_servers - configured:
        return Check("servers", title, RED, "the network guard allows a server that is not "
                     "configured: " + ", ".join(f"{h}:{p}" for h, p in
                                               sorted(guard.allowed_servers - configured)), details)
    if not servers:
        return Check("servers", title, GREEN,
                     "none: every answer comes from a model on this computer", details)
    listed = "; ".join(f"{s.name} ({s.url}, trusting {s.trust})" for s in servers)
    return Check("servers", title, AMBER,
                 f"prompts, and passages from documents, may be sent over TLS to {len(servers)} "
                 f"server(s) of the firm, and to nothing else: {listed}", details)


def _network(proc: Path, sys_class_net: Path) -> Check:
    up = []
    try:
        for interface in sorted(p.name for p in sys_class_net.iterdir()):
            if interface == "lo":
                continue
            try:
                state = (sys_class_net / interface / "operstate").read_text().strip()
            except OSError:
                continue
            if state in ("up", "unknown"):
                up.append(interface)
    except OSError:
        pass
    routes = _default_routes(proc)
    details = {"interfaces_up": up, "default_routes": routes}
    if routes:
        return Check("network", "Network", RED,
                     f"a default route exists ({', '.join(routes)}): this machine can reach other "
                     "networks", details)
    if up:
        return Check("network", "Network", AMBER,
                     f"interfaces up ({', '.join(up)}) but no default route", details)
    return Check("network", "Network", GREEN, "no network interface is up besides loopback", details)


def _default_routes(proc: Path) -> list[str]:
    routes = []
    try:
        for line in (proc / "net" / "route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000":
                routes.append(f"IPv4 via {fields[0]}")
    except OSError:
        pass
    try:
        for line in (proc / "net" / "ipv6_route").read_text().splitlines():
            fields = line.split()
            if len(fields) == 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
                routes.append(f"IPv6 via {fields[9]}")
    except OSError:
        pass
    return sorted(set(routes))


def _fips(proc: Path) -> Check:
    try:
        kernel = (proc / "sys" / "crypto" / "fips_enabled").read_text().strip() == "1"
    except OSError:
        kernel = False
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        openssl = bool(rust_openssl.is_fips_enabled())
    except (ImportError, AttributeError):
        openssl = False
    details = {"kernel_fips_enabled": kernel, "openssl_fips_provider": openssl}
    if kernel and openssl:
        return Check("fips", "FIPS mode", GREEN, "the kernel and OpenSSL are in FIPS mode", details)
    return Check("fips", "FIPS mode", AMBER,
                 f"kernel FIPS mode {'on' if kernel else 'off'}, OpenSSL FIPS provider "
                 f"{'on' if openssl else 'off'}; needed only where your policy requires FIPS",
                 details)


def _keys(workspace: Workspace) -> Check:
    secrets = workspace.secrets
    details = {"kept_in": secrets.kind, "where": secrets.description}
    if secrets.kind == "keyring":
        return Check("keys", "Where keys live", GREEN,
                     f"the audit log's daily key, the conversations' key and the trust list are "
                     f"in {secrets.description}", details)
    return Check("keys", "Where keys live", AMBER,
                 f"in {secrets.description}: anyone who can act as this user can read them",
                 details)


def _trust(workspace: Workspace) -> Check:
    title = "Model signatures"
    try:
        policy = workspace.trust.policy()
    except SigningError as error:
        return Check("trust", title, RED, str(error))
    keys = [f"{k.name} ({shown_fingerprint(k.fingerprint)})" for k in policy.keys]
    details = {"trusted_keys": keys, "required": policy.enforced}
    demo = [k for k in policy.keys if k.demo]
    if demo:
        return Check("trust", title, AMBER,
                     f"the demo officer key is trusted ({', '.join(k.label for k in demo)}): its "
                     "private key sits in the Strongroom checkout, so anyone with the checkout "
                     "can sign drives this workstation accepts. On a real workstation remove it "
                     f"(`strongroom trust remove {demo[0].fingerprint[:16]}`)", details)
    if policy.enforced:
        return Check("trust", title, GREEN, f"required; trusted: {', '.join(keys)}", details)
    return Check("trust", title, AMBER, policy.describe(), details)


def _conversations(workspace: Workspace) -> Check:
    path = workspace.paths.conversations_db
    title = "Conversations encrypted"
    if workspace.chats is None:
        return Check("conversations", title, GREEN,
                     "no conversations yet; they will be kept in SQLCipher (AES-256, HMAC-SHA256)",
                     {"database": str(path)})
    if is_plaintext_database(path):
        return Check("conversations", title, RED, f"{path} is a plaintext database")
    return Check("conversations", title, GREEN,
                 f"SQLCipher (AES-256, HMAC-SHA256); key in {workspace.secrets.kind}",
                 {"database": str(path)})


def _documents(workspace: Workspace) -> Check:
    """What documents the workstation holds, where, and how they are searched."""
    title = "Document libraries"
    if workspace.chats is None:
        return Check("documents", title, GREEN, "no libraries yet")
    try:
        libraries = workspace.libraries.all(with_attached=True)
        counts = {library.label: workspace.libraries.counts(library) for library in libraries}
    except ConversationStoreError as error:
        return Check("documents", title, AMBER, f"cannot be read: {error}")
    embedding = workspace.model_catalog().embedding_model()
    documents = sum(n for n, _ in counts.values())
    passages = sum(p for _, p in counts.values())
    search = (f"keywords and meaning ({embedding.name}, sha256 {embedding.sha256})"
              if embedding else "keywords only (no embedding model in the store)")
    return Check("documents", title, GREEN,
                 f"{len(libraries)} librar{'y' if len(libraries) == 1 else 'ies'}, {documents} "
                 f"document(s), {passages} passages, in the encrypted conversations database; "
                 "read in a limited child process",
                 {"libraries": {name: {"documents": n, "passages": p}
                                for name, (n, p) in counts.items()},
                  "search": search})


def _lock(workspace: Workspace) -> Check:
    minutes = workspace.settings["lock_after_minutes"]
    if minutes:
        return Check("idle_lock", "Lock when idle", GREEN, f"after {minutes} minutes",
                     {"minutes": minutes})
    return Check("idle_lock", "Lock when idle", AMBER,
                 "off: the window stays open when nobody is at the computer", {"minutes": 0})


def _recorded_text(workspace: Workspace) -> Check:
    if workspace.settings["audit_log_text"]:
        return Check("recorded_text", "Prompt and answer text in the audit log", AMBER,
                     "recorded, sealed so that only the auditor's key opens it")
    return Check("recorded_text", "Prompt and answer text in the audit log", GREEN,
                 "not recorded; only keyed digests")


def _audit_log(workspace: Workspace) -> Check:
    audit = workspace.audit
    if audit.absent:
        return Check("audit_log", "Audit log", AMBER,
                     "not started yet: it begins with the first thing Strongroom records "
                     "(`strongroom audit init` starts it now)",
                     {"path": str(workspace.paths.audit_log)})
    if not audit.available:
        return Check("audit_log", "Audit log", RED, printable(audit.problem or "not available"),
                     {"tampering": audit.tampering})
    assert audit.log is not None  # available
    return Check("audit_log", "Audit log", GREEN,
                 f"open and chained; key fingerprint {audit.log.fingerprint[:16]}…",
                 {"path": str(workspace.paths.audit_log)})


def _validation(facts: _LogFacts, now: datetime) -> Check:
    title = "Last audit validation"
    last = facts.last_validation
    if last is None:
        return Check("audit_validation", title, AMBER,
                     "the log has never been validated (`strongroom audit verify`)")
    details = last
    when = str(last.get("timestamp", ""))[:19].replace("T", " ")
    if not last.get("ok") and (last.get("key_problem") or not last.get("first_break")):
        return Check("audit_validation", title, AMBER,
                     f"{when} UTC: not checked with the key given (it is not this log's "
                     "verification key); validate again with the right key", details)
    if not last.get("ok"):
        return Check("audit_validation", title, RED,
                     f"{when} UTC: FAILED at {last.get('first_break')}", details)
    if not last.get("keyed"):
        return Check("audit_validation", title, AMBER,
                     f"{when} UTC: passed, but without the verification key (only the chain "
                     "was checked)", details)
    try:
        age = now - datetime.fromisoformat(str(last.get("timestamp")))
    except ValueError:
        age = timedelta(0)
    if age > VALIDATION_MAX_AGE:
        return Check("audit_validation", title, AMBER,
                     f"{when} UTC with the key: passed, but over {VALIDATION_MAX_AGE.days} days ago",
                     details)
    return Check("audit_validation", title, GREEN, f"{when} UTC with the key: passed", details)


def _checkpoint(facts: _LogFacts) -> Check:
    last = facts.last_checkpoint
    if last is None:
        return Check("audit_checkpoint", "Last exported checkpoint", AMBER,
                     "none exported: nothing off this computer shows the log was not cut short")
    when = str(last.get("timestamp", ""))[:19].replace("T", " ")
    return Check("audit_checkpoint", "Last exported checkpoint", GREEN,
                 f"{when} UTC, of entry {last.get('seq')}", last)


def _models(workspace: Workspace, facts: _LogFacts) -> list[Check]:
    lifecycle = Lifecycle(workspace.store)
    try:
        states = lifecycle.states()
    except LifecycleError as error:
        return [Check("models", "Models", RED, str(error))]
    checks = []
    current = lifecycle.file_sha256()
    if facts.lifecycle_recorded and current != facts.lifecycle_sha256:
        checks.append(Check("model_states", "Model states", RED,
                            f"{lifecycle.path} was changed outside Strongroom: it does not match "
                            "the last change the audit log recorded",
                            {"file_sha256": current, "recorded_sha256": facts.lifecycle_sha256}))
    elif current is not None and not facts.lifecycle_recorded:
        checks.append(Check("model_states", "Model states", RED,
                            f"{lifecycle.path} exists but no change to it is in the audit log"))
    listing = []
    worst = GREEN
    try:
        trusted = {k.fingerprint for k in workspace.trust.policy().keys}
    except SigningError:
        trusted = set()  # the trust check above says why
    untrusted = []
    for state in states:
        signature = state.version.provenance.get("signature")
        signer = signature.get("signer") if isinstance(signature, dict) else None
        fingerprint = signature.get("fingerprint") if isinstance(signature, dict) else None
        listing.append({"model": state.store_id, "state": state.state,
                        "signer": signer, "smoke_test": describe_smoke_test(state.smoke_test)})
        if state.state == ACTIVE and (signer is None or not state.smoke_passed):
            worst = AMBER
        if state.state == ACTIVE and signer is not None and fingerprint not in trusted:
            worst = AMBER
            untrusted.append(f"{state.store_id} was signed by {printable(str(signer))}, whose "
                             "key this workstation no longer trusts")
    active = [m for m in listing if m["state"] == ACTIVE]
    staged = [m for m in listing if m["state"] == STAGED]
    if not listing:
        reason = "the store is empty"
    else:
        reason = "; ".join(
            f"{m['model']} ({'signed by ' + printable(str(m['signer'])) if m['signer'] else 'unsigned'}, "
            f"smoke test: {m['smoke_test']})" for m in active) or "no active version"
        if staged:
            reason += f"; {len(staged)} staged version(s) waiting"
        if untrusted:
            reason += "; " + "; ".join(untrusted) + " (promote a version signed by a trusted key, "\
                "or trust the signer again)"
    checks.append(Check("models", "Models in use", worst, reason, {"versions": listing}))
    return checks


def _same_file(recorded, path: Path) -> bool:
    """Whether a validation recorded for ``recorded`` (a path) was of the log at ``path``
    (validations of copies and other logs are recorded too, and say nothing of this one)."""
    if not isinstance(recorded, str):
        return True  # recorded before the path was
    try:
        return Path(recorded).resolve() == path.resolve()
    except (OSError, ValueError):
        return False


def _read_log(path: Path) -> _LogFacts:
    facts = _LogFacts()
    if not path.is_file():
        return facts
    events = ("egress_blocked", "audit_verify", "audit_checkpoint", "model_lifecycle")
    for entry in entries_of(path, events):
        event = entry["event"]
        found = entry.get("details")
        details: dict = found if isinstance(found, dict) else {}
        if event == "egress_blocked":
            facts.blocked += 1
        elif event == "audit_verify" and _same_file(details.get("log"), path):
            facts.last_validation = {**details, "timestamp": entry.get("timestamp")}
        elif event == "audit_checkpoint":
            facts.last_checkpoint = {"seq": details.get("seq", entry.get("seq")),
                                     "timestamp": entry.get("timestamp")}
        elif event == "model_lifecycle" and "lifecycle_sha256" in details:
            facts.lifecycle_sha256 = details["lifecycle_sha256"]
            facts.lifecycle_recorded = True
    return facts
