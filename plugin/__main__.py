"""`python -m plugin` runs the CLI."""

from .cli import main

main()
