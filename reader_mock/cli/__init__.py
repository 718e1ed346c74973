"""The ``reader-mock`` command line: ``serve``, ``validate``, ``contract diff`` and ``check``.

:func:`main` is the click group behind the ``reader-mock`` console script (:mod:`.main`); each
command has its module (:mod:`.serve`, :mod:`.validate`, :mod:`.contract`, :mod:`.check`).
Commands import their machinery inside the function body, so ``reader-mock --help`` stays fast and
one broken feature cannot stop the others from loading.

Exit codes shared by every command: 0 success, 1 the check found a problem, 2 usage or input error
(:class:`~.shared.InputError`: one line on stderr, never a traceback).
"""

from .main import main

__all__ = ["main"]
