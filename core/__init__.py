"""The foundation every other layer stands on: settings, storage, model registry, LLM backends, embedder.

Nothing here imports the rest of SupportLoop.
"""
