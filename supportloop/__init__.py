"""The application shell: the CLI and the wiring of settings, storage, models, index and bots."""
