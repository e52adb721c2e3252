"""The compliance report: each item's colour follows what is on this computer, read from
fake /proc and /sys trees where the real ones would decide for the test machine."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from strongroom.core.compliance import AMBER, GREEN, RED, build_report
from strongroom.core.offline import OFFLINE_ENVIRONMENT, EgressGuard
from tests.helpers.cli import strongroom


@pytest.fixture
def isolated_machine(tmp_path):
    """A /proc and /sys with loopback only and no route anywhere."""
    proc, net = tmp_path / "proc", tmp_path / "net"
    (proc / "net").mkdir(parents=True)
    (proc / "sys" / "crypto").mkdir(parents=True)
    (proc / "sys" / "crypto" / "fips_enabled").write_text("0\n")
    (proc / "net" / "route").write_text("Iface\tDestination\tGateway\n")
    (proc / "net" / "ipv6_route").write_text("")
    (net / "lo").mkdir(parents=True)
    (net / "lo" / "operstate").write_text("unknown\n")
    return proc, net


def report(workspace, machine, guard=None, now=None):
    proc, net = machine
    built = build_report(workspace, guard or EgressGuard.install(), now=now, proc=proc,
                         sys_class_net=net)
    return {c.id: c for c in built.checks}, built


def test_an_isolated_machine_has_a_green_network(workspace, isolated_machine, monkeypatch):
    for name, value in OFFLINE_ENVIRONMENT.items():  # as the command line sets them
        monkeypatch.setenv(name, value)
    checks, _ = report(workspace, isolated_machine)
    assert checks["network"].status == GREEN
    assert checks["conversations"].status == GREEN
    assert checks["offline_environment"].status == GREEN


def test_an_interface_up_is_amber_and_a_default_route_is_red(workspace, isolated_machine):
    proc, net = isolated_machine
    (net / "eth0").mkdir()
    (net / "eth0" / "operstate").write_text("up\n")
    checks, _ = report(workspace, isolated_machine)
    assert checks["network"].status == AMBER and "eth0" in checks["network"].reason
    (proc / "net" / "route").write_text("Iface\tDestination\tGateway\neth0\t00000000\t0102A8C0\n")
    checks, _ = report(workspace, isolated_machine)
    assert checks["network"].status == RED and "default route" in checks["network"].reason


def test_fips_needs_both_the_kernel_and_openssl(workspace, isolated_machine):
    proc, _ = isolated_machine
    (proc / "sys" / "crypto" / "fips_enabled").write_text("1\n")
    checks, _ = report(workspace, isolated_machine)
    assert checks["fips"].status == AMBER
    assert checks["fips"].details == {"kernel_fips_enabled": True, "openssl_fips_provider": False}


def test_validation_colour_follows_the_last_recorded_validation(workspace, isolated_machine):
    checks, _ = report(workspace, isolated_machine)
    assert checks["audit_validation"].status == AMBER and "never" in checks["audit_validation"].reason

    class Report:
        ok, entries, keyed, checkpoint_checked, first_break, key_problem = True, 3, False, False, None, None

    workspace.audit.audit_verify(workspace.paths.audit_log, Report)
    checks, _ = report(workspace, isolated_machine)
    assert checks["audit_validation"].status == AMBER and "without the verification key" in \
        checks["audit_validation"].reason
    Report.keyed = True
    workspace.audit.audit_verify(workspace.paths.audit_log, Report)
    checks, _ = report(workspace, isolated_machine)
    assert checks["audit_validation"].status == GREEN
    later = datetime.now(timezone.utc) + timedelta(days=31)
    checks, _ = report(workspace, isolated_machine, now=later)
    assert checks["audit_validation"].status == AMBER and "over 30 days" in checks["audit_validation"].reason


def test_a_mistyped_key_is_not_a_failed_log_and_a_copy_is_not_this_log(workspace, isolated_machine,
                                                                      tmp_path):
    from strongroom.core.audit import keys
    from strongroom.core.audit.verifier import verify_log

    log = workspace.paths.audit_log
    other_key = keys.key_to_text(bytes(32))
    workspace.audit.audit_verify(log, verify_log(log, other_key))
    checks, _ = report(workspace, isolated_machine)
    check = checks["audit_validation"]
    assert check.status == AMBER and "not checked with the key given" in check.reason
    assert "FAILED" not in check.reason and "None" not in check.reason
    copy = tmp_path / "copy-of-audit.log"
    copy.write_bytes(log.read_bytes()[:-5])  # a broken copy, validated here
    workspace.audit.audit_verify(copy, verify_log(copy))
    checks, _ = report(workspace, isolated_machine)
    assert "not checked with the key given" in checks["audit_validation"].reason  # still this log's


def test_blocked_connections_since_install_come_from_the_log(workspace, isolated_machine):
    workspace.audit.egress_blocked("socket.connect", "203.0.113.7:443")
    checks, _ = report(workspace, isolated_machine, guard=EgressGuard.install())
    assert checks["egress_guard"].status == AMBER
    assert checks["egress_guard"].details["blocked_since_install"] == 1


def test_model_states_edited_outside_strongroom_are_red(workspace, isolated_machine, stored_model):
    version = workspace.store.versions()[0]
    workspace.lifecycle.record_smoke_test(version, {"passed": False, "problems": ["slow"]})
    checks, _ = report(workspace, isolated_machine)
    assert "model_states" not in checks
    path = workspace.lifecycle.path
    record = json.loads(path.read_text())
    record["versions"][version.store_id]["smoke_test"]["passed"] = True  # to pass promotion
    path.write_text(json.dumps(record))
    checks, _ = report(workspace, isolated_machine)
    assert checks["model_states"].status == RED and "changed outside Strongroom" in checks["model_states"].reason


def test_the_html_export_escapes_and_fetches_nothing(workspace, isolated_machine, stored_model):
    _, built = report(workspace, isolated_machine)
    built.checks[0] = type(built.checks[0])("x", "<script>alert(1)</script>", RED, "<img src=x>")
    page = built.as_html()
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "http" not in page.lower().replace("http-equiv", "")


def test_the_command_writes_json_and_html_and_fails_on_red(home, tmp_path):
    page = tmp_path / "report.html"
    result = strongroom("compliance", "--json", "--html", str(page), home=home)
    body = json.loads(result.stdout[result.stdout.index("{"):])
    assert body["format"] == "strongroom.compliance"
    ids = {c["id"] for c in body["checks"]}
    assert {"offline_environment", "egress_guard", "network", "fips", "keys", "trust",
            "conversations", "audit_log", "audit_validation", "audit_checkpoint", "models"} <= ids
    assert result.returncode == (1 if body["summary"]["red"] else 0)
    assert "Strongroom compliance report" in page.read_text()


def test_the_inference_servers_are_listed_and_the_guard_allows_only_them(workspace,
                                                                        isolated_machine):
    guard = EgressGuard.install()
    checks, _ = report(workspace, isolated_machine, guard)
    assert checks["servers"].status == GREEN and "none" in checks["servers"].reason

    workspace.servers.add("firm", "https://10.0.0.5:8443", pin="ab" * 32, api_key="k" * 20)
    workspace.allow_servers()
    checks, _ = report(workspace, isolated_machine, guard)
    assert checks["servers"].status == AMBER
    assert "firm (https://10.0.0.5:8443" in checks["servers"].reason
    assert checks["servers"].details["guard_allows"] == ["10.0.0.5:8443"]
    assert checks["servers"].details["servers"][0]["api_key"] is True
    assert "k" * 20 not in json.dumps(checks["servers"].details)

    guard.allow_servers([("10.0.0.5", 8443), ("10.0.0.6", 22)])  # something let in another
    try:
        checks, _ = report(workspace, isolated_machine, guard)
        assert checks["servers"].status == RED and "10.0.0.6:22" in checks["servers"].reason
    finally:
        guard.allow_servers([])
