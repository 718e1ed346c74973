"""``python -m reader_mock.cli``: the same as the ``reader-mock`` command."""

from .main import main

main()
