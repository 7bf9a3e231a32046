"""`python -m plugin` runs the CLI."""

from plugin.cli import main

main()
