"""Strongroom's core: everything the window and the commands share, and no Qt, ever.

Grouped by area, each package one job:

* ``inference`` — the llama.cpp engine, chat templates, fitting a conversation into the
  context window, reading GGUF headers, a model's identity;
* ``transfer`` — drive manifests, reading untrusted files safely, checking files against
  manifests, drives, Ollama folders, preparing drives, the isolated GGUF check;
* ``store`` — the verified model store, the catalog of chat models, the import workflow;
* ``audit`` — the entry format and keys, the writer, the events Strongroom records, the
  verifier and its report, reading a large log on demand;
* ``chats`` — conversations on disk, exports, the chat session both front ends drive.

The small shared pieces sit here: paths, settings, secrets, the offline guard, atomic
writes, progress, units and the escaping of untrusted text. `workspace` opens them all.
"""
