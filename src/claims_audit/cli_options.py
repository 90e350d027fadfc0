"""What the command groups share: the options that mean the same on every command that takes them
(`run`, `history import`, `review import`), and the two pieces of glue they use. One module below
cli.py, review_cli.py and history_cli.py, so that none of them imports another for these."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import UsageError

MappingOption = Annotated[Optional[Path], typer.Option("--mapping", help="YAML/TOML file renaming your "
                                                                         "headers to canonical columns.")]
SchemaOption = Annotated[Optional[Path], typer.Option("--schema", help="Layout file (default: the shipped "
                                                                       "claims-extract-v1.yaml).")]
LayoutOption = Annotated[Optional[str], typer.Option("--layout", help="A shipped layout preset (see `claims-audit "
                         "layouts`), e.g. synpuf-carrier; --mapping renames on top of it.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")]


def layout_file(schema: Optional[Path], layout: Optional[str]) -> Optional[Path]:
    """--layout NAME is the shipped preset file of that name; it cannot be combined with --schema."""
    if layout is None:
        return schema
    if schema is not None:
        raise UsageError("--layout and --schema cannot be used together (a preset already names its layout)")
    from .presets import preset_path
    return preset_path(layout)


def echo_rejections(inputs: list, where: str = "") -> None:
    """One stderr line per rejected file or partly rejected input (names and counts, never values)."""
    for i in inputs:
        if i.status == "rejected":
            typer.echo(f"  rejected file: {i.path}: {i.error}", err=True)
        elif i.rows_rejected:
            typer.echo(f"  {i.path}: {i.rows_rejected} rows rejected{where}", err=True)
