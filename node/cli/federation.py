"""``clearinghouse federation restrict``: a federation config cut down to some participants.

A federation config (``deploy/examples/federation.yaml``) describes every body that
may take part; a deployment of some of them needs the config of those only, each
at the address it has there (``deploy/compose/init.sh`` runs this for the four
agencies of ``deploy/compose.yaml``). The logic is the local federation's own
(:func:`node.localfed.restrict_federation`): the named participants are kept, in
the config's order, the policy keeps only the rules addressed to them, and the
quorum is at most their number. The result feeds ``clearinghouse manifest create``.

Exit codes: 0 done, 2 a usage or file problem (an unreadable config, a participant
it does not have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from clearinghouse.node.cli._common import fail, read_yaml_file, reporting, stderr
from clearinghouse.node.localfed.config import restrict_federation

__all__ = ["app"]

app = typer.Typer(help="Work with a federation config file.", no_args_is_help=True)


@app.command()
def restrict(
    participants: Annotated[
        list[str], typer.Argument(metavar="PARTICIPANT", help="The participants to keep.")
    ],
    config: Annotated[Path, typer.Option(help="The federation config (YAML) to start from.")],
    out: Annotated[Path, typer.Option(help="The restricted config (YAML) to write.")],
    base_url: Annotated[
        str,
        typer.Option(
            metavar="TEMPLATE",
            help="Each participant's base URL, {id} standing for its id, e.g. 'http://{id}:8100'.",
        ),
    ],
) -> None:
    """Write the federation config with only the PARTICIPANTs, each at its base URL."""
    if "{id}" not in base_url:
        fail("--base-url must contain {id}, which stands for each participant's id")
    with reporting():
        doc = read_yaml_file(config)
    entries = doc.get("participants") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("id"), str) for e in entries
    ):
        fail(f"{config}: expected a mapping with a 'participants' list, each with an 'id'")
    try:
        restricted = restrict_federation(
            doc, {p: base_url.replace("{id}", p) for p in participants}
        )
    except ValueError as exc:
        fail(f"{config}: {exc}")
    with reporting():
        out.write_text(yaml.safe_dump(restricted, sort_keys=False))
    stderr.print(
        f"wrote {out}: {len(restricted['participants'])} participants, "
        f"quorum {restricted['quorum']}",
        markup=False,
    )
