"""Running a model: the llama.cpp engine, chat templates, the context window, GGUF headers,
and the identity of a model as it travels from the store to the audit log."""
