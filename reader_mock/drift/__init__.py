"""Compare the project's OpenAPI document with an upstream one: ``reader-mock contract diff``.

The drift check tells maintainers and CI whether ``openapi.yaml`` still describes the same REST
surface as a published upstream contract, apart from the differences the project chose on purpose.
Those deliberate differences live in ``contracts/intended-differences.yaml``, each with its reason,
so a new upstream change shows up as an *unintended* difference until someone decides about it.

- :mod:`.sources` reads a document from a file or a URL;
- :mod:`.differ` compares two documents;
- :mod:`.intended` reads the intended differences;
- :mod:`.differences` and :mod:`.report` hold the findings and render them as text or JSON.

Only the command line and the tests import this package (it loads httpx).
"""

from .differ import diff_openapi
from .differences import DIFFERENCE_KINDS, Difference
from .errors import DocumentLoadError, DriftError, IntendedDifferencesError
from .intended import (
    IntendedDifference,
    IntendedDifferences,
    default_intended_path,
    load_intended_differences,
)
from .report import DriftReport
from .sources import load_openapi_source

__all__ = [
    "DIFFERENCE_KINDS",
    "Difference",
    "DocumentLoadError",
    "DriftError",
    "DriftReport",
    "IntendedDifference",
    "IntendedDifferences",
    "IntendedDifferencesError",
    "default_intended_path",
    "diff_openapi",
    "load_intended_differences",
    "load_openapi_source",
]
