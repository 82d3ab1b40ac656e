"""The `visuallens` command: every command group's commands on one typer app."""

from __future__ import annotations

import typer

from engine.cli import feedback, library, passphrase, profile, recommend, serve, taste, watch
from engine.cli.models import models_app

app = typer.Typer(help="VisualLens: private recommendations from your own photos. Nothing leaves this machine.",
                  no_args_is_help=True, add_completion=False)
app.command(name="init")(profile.init)
app.command(name="index")(library.index)
app.command(name="search")(library.search)
app.command(name="recommend")(recommend.recommend)
app.command(name="feedback")(feedback.feedback)
app.command(name="taste")(taste.taste)
app.command(name="correct")(taste.correct)
app.command(name="status")(profile.status)
app.command(name="forget")(profile.forget)
app.command(name="wipe")(profile.wipe_command)
app.command(name="version")(profile.version)
app.command(name="watch")(watch.watch_command)
app.command(name="serve")(serve.serve_command)
app.add_typer(models_app, name="models")
app.command(name="passphrase")(passphrase.passphrase_command)


def main() -> None:
    app()
