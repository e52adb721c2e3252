"""Where Strongroom keeps its files.

By default the platform's conventional folders (platformdirs): data (model store,
conversations, audit log), config (settings) and logs. When ``STRONGROOM_HOME`` is set,
everything lives under that one folder instead: tests, portable installs, and anyone
inspecting the app from the outside use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "strongroom"
HOME_VARIABLE = "STRONGROOM_HOME"


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path
    config_dir: Path
    log_dir: Path

    @property
    def store_dir(self) -> Path:
        """The verified model store (see strongroom.core.store.model_store)."""
        return self.data_dir / "store"

    @property
    def conversations_db(self) -> Path:
        return self.data_dir / "conversations.sqlite3"

    @property
    def audit_log(self) -> Path:
        return self.data_dir / "audit" / "audit.log"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def app_log(self) -> Path:
        return self.log_dir / "strongroom.log"

    def describe(self) -> dict[str, str]:
        """Every location, for display and for `strongroom paths`."""
        return {
            "data": str(self.data_dir),
            "config": str(self.config_dir),
            "logs": str(self.log_dir),
            "store": str(self.store_dir),
            "conversations": str(self.conversations_db),
            "audit log": str(self.audit_log),
            "settings": str(self.settings_file),
            "app log": str(self.app_log),
        }


def app_paths(environ: os._Environ[str] | dict[str, str] = os.environ) -> AppPaths:
    """The locations for this process: ``$STRONGROOM_HOME`` if set, else platformdirs."""
    home = environ.get(HOME_VARIABLE, "").strip()
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(root / "data", root / "config", root / "logs")
    return AppPaths(
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
