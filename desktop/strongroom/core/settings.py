"""User settings: declared once (name, type, default, bounds, help), stored atomically as JSON.

The declarations drive everything else: validation, the settings dialog, and the values
the engine and sampler receive. A settings file that is damaged or holds a value out of
bounds never stops the app: the bad entry falls back to its default and the problem is
reported in `Settings.problems`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from strongroom.core.atomic import write_atomic

Number = Union[int, float]


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    type: type
    default: Any
    help: str
    minimum: Number | None = None
    maximum: Number | None = None
    step: Number | None = None
    special_value: str | None = None  # shown instead of `minimum` (e.g. "auto")
    in_dialog: bool = True  # False for state the app keeps, not choices the user makes
    reloads_model: bool = False  # a change takes effect only when the model is loaded again

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this setting's type, or raise ValueError saying why not."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.label} must be true or false, not {value!r}")
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.label} must be text, not {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.label} must be a number, not {value!r}")
        if self.type is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"{self.label} must be a whole number, not {value!r}")
            value = int(value)
        else:
            value = float(value)
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.label} must be at least {self.minimum}, not {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{self.label} must be at most {self.maximum}, not {value}")
        return value


AUTO = -1  # gpu_layers: all layers when the build can offload, else none

DECLARED: tuple[Setting, ...] = (
    Setting("system_prompt", "System prompt", str,
            "You are a helpful assistant. Answer clearly and concisely.",
            "Instructions the model sees before every conversation."),
    Setting("temperature", "Temperature", float, 0.7,
            "Higher values give more varied answers; 0 always picks the likeliest word.",
            0.0, 2.0, 0.05),
    Setting("top_p", "Top-p", float, 0.95,
            "Sample only from the likeliest words whose probabilities add up to this.",
            0.0, 1.0, 0.01),
    Setting("top_k", "Top-k", int, 40,
            "Sample only from this many likeliest words (0 = no limit).", 0, 1000, 1),
    Setting("min_p", "Min-p", float, 0.05,
            "Ignore words less likely than this fraction of the likeliest one.", 0.0, 1.0, 0.01),
    Setting("repeat_penalty", "Repeat penalty", float, 1.1,
            "Discourages repeating recent words (1 = off).", 0.5, 2.0, 0.01),
    Setting("max_tokens", "Max answer tokens", int, 1024,
            "The longest answer the model may write.", 16, 32768, 16),
    Setting("context_length", "Context length", int, 4096,
            "How many tokens of conversation the model reads (capped at what it was trained on).",
            256, 262144, 256, reloads_model=True),
    Setting("gpu_layers", "GPU layers", int, AUTO,
            "Layers to run on the GPU; auto = all when this build supports a GPU.",
            AUTO, 1000, 1, special_value="auto", reloads_model=True),
    Setting("threads", "CPU threads", int, 0,
            "Threads for generation; auto = chosen from the number of CPUs.", 0, 256, 1,
            special_value="auto", reloads_model=True),
    Setting("batch_size", "Batch size", int, 512,
            "Tokens read per step while the model reads your message.", 32, 8192, 32,
            reloads_model=True),
    Setting("audit_log_text", "Record prompt and answer text in the audit log", bool, False,
            "Off: the audit log keeps only SHA-256 digests of prompts and answers. On: it keeps "
            "their full text, so anyone who can read the log can read what was asked and answered "
            "(patient or privileged information included). Leave off unless the log itself is "
            "protected as such data must be."),
    Setting("lock_after_minutes", "Lock after minutes idle", int, 0,
            "Close the conversations and lock the window after this many minutes without "
            "keyboard or mouse use; your login password or the recovery key opens it again.",
            0, 1440, 1, special_value="never"),
    Setting("retention_days", "Keep retired models for days", int, 30,
            "Retired model versions are removed from the store this many days after they were "
            "retired (at start, and by `strongroom store gc`).", 0, 3650, 1),
    Setting("window_geometry", "Window position and size", str, "",
            "Where the window was when it last closed.", in_dialog=False),
    Setting("last_model", "Last model", str, "",
            "The model loaded at the end of the last session (its name; a path from an "
            "earlier version still works).", in_dialog=False),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in DECLARED}


class Settings:
    """The current values, backed by one JSON file written atomically on every change."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []
        self._values: dict[str, Any] = {s.name: s.default for s in DECLARED}
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            stored = json.loads(raw)
            if not isinstance(stored, dict):
                raise ValueError("the file does not hold a JSON object")
        except ValueError as error:
            self.problems.append(f"{self.path}: unreadable ({error}); using default settings")
            return
        for name, value in stored.items():
            setting = BY_NAME.get(name)
            if setting is None:
                continue  # a setting from another version: keep the file's others
            try:
                self._values[name] = setting.coerce(value)
            except ValueError as error:
                self.problems.append(f"{self.path}: {error}; using {setting.default!r}")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def update(self, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Validate and store ``changes``; return {name: (old, new)} for what really changed.

        Nothing is stored unless every change is valid.
        """
        coerced = {}
        for name, value in changes.items():
            if name not in BY_NAME:
                raise ValueError(f"There is no setting called {name!r}")
            coerced[name] = BY_NAME[name].coerce(value)
        changed = {n: (self._values[n], v) for n, v in coerced.items() if self._values[n] != v}
        if changed:
            candidate = {**self._values, **coerced}
            write_atomic(self.path, json.dumps(candidate, indent=2, sort_keys=True).encode())
            self._values = candidate
        return changed
