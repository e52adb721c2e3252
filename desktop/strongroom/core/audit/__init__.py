"""The tamper-evident audit log: its format and keys, the writer, the events recorded, the
verifier and its report, and reading a large log on demand for the viewer."""
