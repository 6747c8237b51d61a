"""The controller LLM: one declared interface, llama.cpp in process, or a remote server."""
