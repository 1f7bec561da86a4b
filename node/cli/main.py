"""The ``clearinghouse`` command: a thin shell over the library (Typer + rich)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from clearinghouse.node.cli import (
    audit,
    authorise,
    db,
    federation,
    hsm,
    key_lifecycle,
    manifest,
    packet,
    schema,
)
from clearinghouse.node.cli.analyze import analyze
from clearinghouse.node.cli.demo import demo
from clearinghouse.node.cli.ingest import ingest
from clearinghouse.node.cli.keys import keygen, pseudonym_key
from clearinghouse.node.cli.node_init import init
from clearinghouse.node.cli.run import run

__all__ = ["app"]

app = typer.Typer(
    name="clearinghouse",
    help="Clearinghouse: signed, policy-filtered data sharing between international bodies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(show: bool) -> None:
    if show:
        typer.echo(f"clearinghouse {version('clearinghouse')}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Clearinghouse: signed, policy-filtered data sharing between international bodies."""


app.command("keygen")(keygen)
app.command("pseudonym-key")(pseudonym_key)
app.command("init")(init)
app.command("run")(run)
app.command("ingest")(ingest)
app.command("demo")(demo)
app.command("analyze")(analyze)
app.add_typer(federation.app, name="federation")
app.add_typer(manifest.app, name="manifest")
app.add_typer(key_lifecycle.app, name="key")
app.add_typer(hsm.app, name="hsm")
app.add_typer(packet.app, name="packet")
app.add_typer(schema.app, name="schema")
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(authorise.app, name="authorise")


if __name__ == "__main__":
    app()
