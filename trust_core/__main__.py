"""``python -m trust_core`` = the ``trust`` command."""

from trust_core.cli import main

main()
