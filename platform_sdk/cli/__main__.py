"""``python -m platform_sdk.cli`` runs the ``platform`` command."""

from platform_sdk.cli import main

main(prog_name="platform")
