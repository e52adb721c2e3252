"""Killing a command with SIGKILL at a chosen moment, and its children with it: after a
delay, or the moment a file-system event happens in a folder (inotify)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import REPO

IN_CREATE, IN_MOVED_TO = 0x100, 0x80

# Runs one command in a new process group and SIGKILLs the whole group (the command and
# its children): `after SECONDS`, or `on FOLDER MASK SUFFIX` the moment inotify reports
# that event in FOLDER for a name ending in SUFFIX ("" for any), or `on FOLDER MASK SUFFIX
# SECONDS` that many seconds after the event, unless the command ends first ("since_event"
# then says how long after the event it ended). It makes itself the "child subreaper"
# so that the killed command's orphaned children are reparented to it and reaped here:
# nothing is left running or defunct. Prints one JSON line.
SUPERVISOR = r"""
import ctypes, json, os, select, signal, struct, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
since_event = None
if sys.argv[1] == "after":
    delay, command = float(sys.argv[2]), sys.argv[3:]
else:
    folder, mask, suffix = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    delay_after_event, command = (float(sys.argv[6]), sys.argv[7:]) if sys.argv[5] == "then" \
        else (None, sys.argv[5:])
    events = libc.inotify_init1(os.O_CLOEXEC)
    assert events >= 0 and libc.inotify_add_watch(events, folder.encode(), mask) >= 0
child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
if sys.argv[1] == "after":
    try:
        child.wait(timeout=delay)
        kill = False
    except subprocess.TimeoutExpired:
        kill = True
else:
    def matching(data):  # inotify events: wd, mask, cookie, name length, name
        offset = 0
        while offset < len(data):
            _wd, _mask, _cookie, length = struct.unpack_from("iIII", data, offset)
            name = data[offset + 16:offset + 16 + length].rstrip(b"\0").decode()
            if name.endswith(suffix):
                return True
            offset += 16 + length
        return False
    ended = os.pidfd_open(child.pid)
    kill = False
    while not kill:
        ready, _, _ = select.select([events, ended], [], [])
        if events in ready:
            kill = matching(os.read(events, 65536))
        elif ended in ready:
            break
    if kill and delay_after_event is not None:
        happened = time.monotonic()
        try:
            child.wait(timeout=delay_after_event)
            kill = False
            since_event = time.monotonic() - happened
        except subprocess.TimeoutExpired:
            pass
if kill:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        kill = False  # it ended just now
child.wait()
while True:  # reap what the killed import left behind
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
print(json.dumps({"killed": kill, "returncode": child.returncode, "since_event": since_event}))
"""


def run_and_kill(command: list[str], env: dict[str, str], *how: str) -> dict:
    """Run ``command`` under the supervisor, killed as ``how`` says ("after", SECONDS or
    "on", FOLDER, MASK, NAME SUFFIX, optionally followed by "then", SECONDS); returns
    {"killed": bool, "returncode": int, "since_event": seconds or None}."""
    result = subprocess.run([sys.executable, "-c", SUPERVISOR, *how, *command], cwd=REPO,
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
