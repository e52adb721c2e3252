"""Moving models across the gap: drive manifests, safe reading of untrusted files, checking
files against manifests, drives and Ollama folders, preparing drives, the isolated GGUF check."""
