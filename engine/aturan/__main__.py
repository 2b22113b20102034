"""`python -m aturan` runs the CLI."""

from .cli import main

main()
