"""Strongroom: a private AI workstation for isolated machines."""

__version__ = "0.1.0"

import logging as _logging

# Until the app configures its log file, Strongroom's records go nowhere rather than to the
# terminal (logging's last-resort handler would print warnings there).
_logging.getLogger("strongroom").addHandler(_logging.NullHandler())
