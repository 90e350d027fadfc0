"""`python -m claims_audit` runs the CLI (same as the `claims-audit` console script)."""

from .cli import main

main()
