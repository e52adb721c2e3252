"""The one base class for failures a person can act on.

A `StrongroomError`'s message is written for the person who reads it: what happened, to
which file or entry, and what to do. The commands let such an error rise to `cli.main`,
which prints it as one line and exits with its `exit_code`; the window shows it as a
notice. Anything else that escapes is a fault in Strongroom itself, and goes to the
last-resort reporting (the app log, and a notice in the window).
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2


class StrongroomError(Exception):
    """A failure explained in its message; commands exit with ``exit_code``."""

    exit_code = EXIT_FAILURE
