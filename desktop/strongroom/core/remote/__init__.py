"""Answers from the firm's own inference server: configured servers, TLS with the firm's
trust, and a remote engine that streams OpenAI-compatible chat completions."""
