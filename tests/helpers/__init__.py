"""What the tests share: where the repository and the demo model are, and one helper module
per kind of thing tests build (GGUF files, audit logs, stores, the stand-in hub, a keyring,
the window, the command line, dropped privileges, the crash and app drivers, documents)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / ".cache" / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDING_MODEL = REPO / ".cache" / "embedding" / "all-MiniLM-L6-v2.F16.gguf"
