"""`visuallens serve`: rankings for local programs over HTTP on 127.0.0.1, behind a bearer token."""

from __future__ import annotations

from typing import Optional

import typer

from engine.cli.context import err, out, reported_errors, session
from engine.cli.text import term
from engine.serve.settings import DEFAULT_PORT, Limits


def serve_command(
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    rate: str = typer.Option(Limits.rate, "--rate", help='Requests allowed per token, e.g. "300/minute".'),
    max_body_mb: float = typer.Option(Limits.max_body_bytes / 2**20, "--max-body-mb", min=0.001,
                                      help="Largest request body accepted (MB)."),
    config: Optional[str] = typer.Option(
        None, "--config", help="Folder for the token file (default: VISUALLENS_CONFIG, else the user config dir)."
    ),
) -> None:
    """Serve rankings to local programs over HTTP on 127.0.0.1, behind a bearer token (never any photo)."""
    from engine.serve.server import LocalServer  # here: the web stack should not slow every other command

    with session() as lens:
        with reported_errors():
            server = LocalServer(lens, port=port, limits=Limits(rate=rate, max_body_bytes=int(max_body_mb * 2**20)),
                                 config=config)
        if server.stale_token_file is not None:
            err.print(f"[yellow]removed a stale token file (its server is gone):[/] "
                      f"{term(str(server.stale_token_file))}", highlight=False)
        out.print(f"VisualLens API on [bold]{server.url}[/] (127.0.0.1 only). Bearer token and URL in "
                  f"{term(str(server.token_path))} (mode 0600, new on every start). OpenAPI: {server.url}/openapi.json. "
                  "Ctrl+C stops.", highlight=False)
        server.run()
        err.print("Stopped; token file removed." if server.token_file_removed else
                  f"Stopped; {term(str(server.token_path))} no longer held this server's token: left as it is.",
                  highlight=False)

