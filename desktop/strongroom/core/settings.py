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
    section: str = "Model"  # where the settings dialog shows it (one of SECTIONS)
    choices: tuple[tuple[str, str], ...] = ()  # text settings: (value, label) pairs allowed
    per_model: bool = False  # remembered for each model (its preset) as well as globally
    refused: tuple[int, int] | None = None  # values in this range are not allowed (inclusive)

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this setting's type, or raise ValueError saying why not."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.label} must be true or false, not {value!r}")
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.label} must be text, not {value!r}")
            allowed = [choice for choice, _label in self.choices]
            if allowed and value not in allowed:
                raise ValueError(f"{self.label} must be one of {', '.join(allowed)}, not {value!r}")
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
        if self.refused is not None and self.refused[0] <= value <= self.refused[1]:
            raise ValueError(f"{self.label} must be {self.minimum} ({self.special_value}) or from "
                             f"{self.refused[1] + 1} to {self.maximum}, not {value}")
        return value


SECTIONS = ("Model", "Sampling", "Privacy", "Appearance", "Audit")
AUTO = -1  # gpu_layers: all layers when the build can offload, else none
FONT_SMALLEST, FONT_LARGEST = 8, 32  # points: smaller or larger text makes the window unreadable

DECLARED: tuple[Setting, ...] = (
    Setting("system_prompt", "System prompt", str,
            "You are a helpful assistant. Answer clearly and concisely.",
            "Instructions the model sees before every conversation.",
            section="Sampling", per_model=True),
    Setting("temperature", "Temperature", float, 0.7,
            "Higher values give more varied answers; 0 always picks the likeliest word.",
            0.0, 2.0, 0.05,
            section="Sampling", per_model=True),
    Setting("top_p", "Top-p", float, 0.95,
            "Sample only from the likeliest words whose probabilities add up to this.",
            0.0, 1.0, 0.01,
            section="Sampling", per_model=True),
    Setting("top_k", "Top-k", int, 40,
            "Sample only from this many likeliest words (0 = no limit).", 0, 1000, 1,
            section="Sampling", per_model=True),
    Setting("min_p", "Min-p", float, 0.05,
            "Ignore words less likely than this fraction of the likeliest one.", 0.0, 1.0, 0.01,
            section="Sampling", per_model=True),
    Setting("repeat_penalty", "Repeat penalty", float, 1.1,
            "Discourages repeating recent words (1 = off).", 0.5, 2.0, 0.01,
            section="Sampling", per_model=True),
    Setting("max_tokens", "Max answer tokens", int, 1024,
            "The longest answer the model may write.", 16, 32768, 16,
            section="Sampling", per_model=True),
    Setting("context_length", "Context length", int, 4096,
            "How many tokens of conversation the model reads (capped at what it was trained on).",
            256, 262144, 256, reloads_model=True, per_model=True),
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
            "Off: the audit log keeps only keyed digests of prompts and answers (an auditor with "
            "the audit verification key can confirm that a given prompt was asked). On: it also "
            "keeps their full text, sealed for the auditor: only the audit verification key "
            "opens it, not this workstation, a copy of the log or a stolen day key. Whoever "
            "holds that key can then read what was asked and answered (patient or privileged "
            "information included): leave off unless your auditor must.",
            section="Audit"),
    Setting("lock_after_minutes", "Lock after minutes idle", int, 0,
            "Close the conversations and lock the window after this many minutes without "
            "keyboard or mouse use; your login password or the recovery key opens it again.",
            0, 1440, 1, special_value="never",
            section="Privacy"),
    Setting("retention_days", "Keep retired models for days", int, 30,
            "Retired model versions are removed from the store this many days after they were "
            "retired (at start, and by `strongroom store gc`).", 0, 3650, 1),
    Setting("theme", "Theme", str, "system",
            "Light or dark; \"Follow the system\" uses the desktop's choice.",
            section="Appearance",
            choices=(("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))),
    Setting("font_size", "Font size", int, 0,
            "Text size in points, 8 to 32; Ctrl+= and Ctrl+- change it, Ctrl+0 goes back to "
            "the desktop's size.", 0, 32, 1, special_value="desktop's size", section="Appearance",
            refused=(1, FONT_SMALLEST - 1)),
    Setting("window_geometry", "Window position and size", str, "",
            "Where the window was when it last closed.", in_dialog=False),
    Setting("last_model", "Last model", str, "",
            "The model loaded at the end of the last session (its name; a path from an "
            "earlier version still works).", in_dialog=False),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in DECLARED}


PRESETS_KEY = "model_presets"  # in the file: {model name: {setting: value}}


class Settings:
    """The current values, backed by one JSON file written atomically on every change.

    Settings marked ``per_model`` are also remembered for each model (its preset): after
    `use_model`, reading one gives that model's value when it has one, and changing one
    changes the model's preset as well as the value other models start from.
    """

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []
        self.model: str | None = None
        self._values: dict[str, Any] = {s.name: s.default for s in DECLARED}
        self._presets: dict[str, dict[str, Any]] = {}
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
            if name == PRESETS_KEY:
                self._load_presets(value)
                continue
            setting = BY_NAME.get(name)
            if setting is None:
                continue  # a setting from another version: keep the file's others
            try:
                self._values[name] = setting.coerce(value)
            except ValueError as error:
                self.problems.append(f"{self.path}: {error}; using {setting.default!r}")

    def _load_presets(self, stored: Any) -> None:
        if not isinstance(stored, dict):
            self.problems.append(f"{self.path}: the model presets are not a JSON object; "
                                 "models use the general settings")
            return
        for model, values in stored.items():
            if not isinstance(values, dict):
                self.problems.append(f"{self.path}: the preset of {model!r} is not a JSON "
                                     "object; it is ignored")
                continue
            preset = {}
            for name, value in values.items():
                setting = BY_NAME.get(name)
                if setting is None or not setting.per_model:
                    continue
                try:
                    preset[name] = setting.coerce(value)
                except ValueError as error:
                    self.problems.append(f"{self.path}: preset of {model!r}: {error}; "
                                         "using the general value")
            self._presets[model] = preset

    def use_model(self, model: str | None) -> None:
        """Read and change ``model``'s preset from now on (None: the general values)."""
        self.model = model or None

    def preset(self, model: str) -> dict[str, Any]:
        """The values remembered for ``model`` (empty when it has none)."""
        return dict(self._presets.get(model, {}))

    def __getitem__(self, name: str) -> Any:
        if self.model is not None and BY_NAME[name].per_model:
            preset = self._presets.get(self.model, {})
            if name in preset:
                return preset[name]
        return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        return {name: self[name] for name in self._values}

    def update(self, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Validate and store ``changes``; return {name: (old, new)} for what really changed.

        Nothing is stored unless every change is valid.
        """
        coerced = {}
        for name, value in changes.items():
            if name not in BY_NAME:
                raise ValueError(f"There is no setting called {name!r}")
            coerced[name] = BY_NAME[name].coerce(value)
        changed = {n: (self[n], v) for n, v in coerced.items() if self[n] != v}
        if changed:
            values = {**self._values, **{n: v for n, (_old, v) in changed.items()}}
            presets = {model: dict(preset) for model, preset in self._presets.items()}
            if self.model is not None:
                presets.setdefault(self.model, {}).update(
                    {n: v for n, (_old, v) in changed.items() if BY_NAME[n].per_model})
            document = {**values, PRESETS_KEY: presets} if presets else values
            write_atomic(self.path, json.dumps(document, indent=2, sort_keys=True).encode())
            self._values, self._presets = values, presets
        return changed
