"""The ``supportloop`` commands, one module per topic; ``supportloop.cli`` registers each module's ``app``.

Modules import only what ``--help`` needs at the top (typer, rich, the settings); models, the index and
the database load inside the command that uses them, so every command starts fast.
"""
