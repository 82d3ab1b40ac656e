"""`visuallens`: the command line. One module per command group, all over one shared context
(`engine.cli.context`: the data dir, the unlocked session, the consoles and the error -> exit code mapping);
`engine.cli.app` puts them together."""

from engine.cli.app import app, main

__all__ = ["app", "main"]
