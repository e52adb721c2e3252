"""The "done when" scenario of the inference servers, run inside a network namespace of its
own (`unshare -rn python -m tests.helpers.netns_driver WORK STORE_TEMPLATE`): loopback plus
one stand-alone device holding 10.77.0.1, two `strongroom serve`s on that address (only the
first configured on the workstation), a chat traced with strace, and the egress guard asked
directly about the second server's port.

It prints one JSON line (the last on stdout) for tests/commands/test_server_commands.py to
check; the strace log is left in WORK. Every server it starts is stopped before it exits,
whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import replicate_tree
from tests.helpers import REPO
from tests.helpers.serving import free_port, start_serve
from tests.helpers.tls import make_ca

ADDRESS = "10.77.0.1"
MODEL = "SmolLM2-135M-Instruct"
API_KEY = "netns-api-key-0123456789abcdef"

# Run as the workstation: the guard as the command line installs it, the workspace opened
# (which allows the configured servers), then a connection to the configured port and one to
# the other server's port, which nothing configured.
GUARD_PROBE = """
import json, socket, sys
from strongroom.core.offline import EgressGuard, apply_offline_environment
apply_offline_environment()
g = EgressGuard.install()
from strongroom.core.workspace import Workspace
w = Workspace.open()
host, allowed, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
result = {"allowed_servers": sorted([h, p] for h, p in g.allowed_servers)}
g.resolve(host, allowed)
with socket.create_connection((host, allowed), timeout=10) as s:
    result["configured_port"] = "connected"
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.settimeout(10)
try:
    raw.connect((host, other))
    result["other_port"] = "connected"
except PermissionError as error:
    result["other_port"] = "PermissionError: " + str(error)
finally:
    raw.close()
try:
    g.resolve(host, other)
    result["other_port_lookup"] = "resolved"
except PermissionError as error:
    result["other_port_lookup"] = "PermissionError: " + str(error)
result["blocked"] = [[b.event, b.destination] for b in g.blocked]
g.enabled = False  # the control: without the guard, the other server is there
with socket.create_connection((host, other), timeout=10):
    result["other_port_unguarded"] = "connected"
w.close()
print(json.dumps(result))
"""


def run(command: list[str], *, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, **kwargs)
    if check and result.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({result.returncode}): "
                         f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def network() -> str:
    """Loopback up, and 10.77.0.1/24 on a device with no peer: a dummy where the kernel
    has the dummy driver, else a bridge with no ports (which behaves the same: the
    address is local, nothing beyond it is reachable). Returns the device's kind."""
    run(["ip", "link", "set", "lo", "up"])
    kind = "dummy"
    if run(["ip", "link", "add", "d0", "type", "dummy"], check=False).returncode != 0:
        kind = "bridge"
        run(["ip", "link", "add", "d0", "type", "bridge"])
    run(["ip", "addr", "add", f"{ADDRESS}/24", "dev", "d0"])
    run(["ip", "link", "set", "d0", "up"])
    return kind


def firm_home(work: Path, name: str, template: Path) -> Path:
    home = work / name
    replicate_tree(template, home / "data" / "store")
    return home


def strongroom_env(home: Path) -> dict:
    return {**os.environ, "STRONGROOM_HOME": str(home)}


def main(work: Path, template: Path) -> dict:
    summary: dict = {"device": network(),
                     "addresses": run(["ip", "-br", "addr"]).stdout.split("\n")}
    ca = make_ca(work / "ca")
    issued = ca.issue(work / "tls", hosts=(ADDRESS,))
    key_file = work / "api-key"
    key_file.write_text(API_KEY + "\n")
    port, other_port = free_port(ADDRESS), free_port(ADDRESS)
    while other_port == port:
        other_port = free_port(ADDRESS)
    summary.update(port=port, other_port=other_port, fingerprint=issued.fingerprint)
    servers = []
    try:
        servers.append(start_serve(firm_home(work, "firm", template), MODEL, ADDRESS, port,
                                   issued.cert, issued.key, key_file))
        servers.append(start_serve(firm_home(work, "other", template), MODEL, ADDRESS,
                                   other_port, issued.cert, issued.key, key_file))
        workstation = work / "workstation"
        env = strongroom_env(workstation)
        added = run([sys.executable, "-m", "strongroom", "server", "add", "firm",
                     f"https://{ADDRESS}:{port}", "--pin", issued.fingerprint, "--api-key-stdin"],
                    input=API_KEY + "\n", env=env, cwd=REPO)
        summary["added"] = added.stdout
        trace = work / "chat.strace"
        chat = run(["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace),
                    sys.executable, "-m", "strongroom", "chat", "--server", "firm",
                    "--max-tokens", "32", "--temperature", "0", "Say hello"],
                   check=False, env=env, cwd=REPO)
        summary.update(chat_code=chat.returncode, chat_stdout=chat.stdout,
                       chat_stderr=chat.stderr[-3000:], trace=str(trace))
        probe = run([sys.executable, "-c", GUARD_PROBE, ADDRESS, str(port), str(other_port)],
                    check=False, env=env, cwd=REPO)
        summary["guard_stderr"] = probe.stderr[-3000:]
        summary["guard"] = (json.loads(probe.stdout.strip().splitlines()[-1])
                            if probe.returncode == 0 and probe.stdout.strip() else None)
    finally:
        summary["serve_codes"] = [served.stop() for served in servers]
    return summary


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
