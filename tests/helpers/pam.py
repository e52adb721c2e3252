"""A PAM service of a test's own: the real PAM library, with a rule that accepts one
password, so a login check can be tested without anyone's real password."""

from __future__ import annotations

from pathlib import Path

from strongroom.core import os_login


def pam_service_accepting(folder: Path, password: str) -> str:
    """Write, in ``folder``, a `login` service whose only rule (pam_exec) reads the password
    PAM collected through its conversation and accepts ``password`` alone; returns the
    folder, for `os_login.password_accepted(config_dir=…)`."""
    check = folder / "check-password"
    check.write_text(f"#!/bin/bash\nIFS= read -r -d '' secret\n[ \"$secret\" = '{password}' ]\n")
    check.chmod(0o700)
    (folder / os_login.SERVICE).write_text(f"auth required pam_exec.so expose_authtok quiet {check}\n")
    return str(folder)
