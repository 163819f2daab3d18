"""Answering: retrieval, LLM backends, prompts, citation checking and the answer pipeline.
Imports only bot.core; it reads the index and never writes it."""
