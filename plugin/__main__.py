"""`python -m plugin` runs the CLI."""

from plugin.cli import main

if __name__ == "__main__":  # not when a spawned process imports it
    main()
