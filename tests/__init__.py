"""Test package. Shared test utilities import as ``from tests.loopback import ...``.

Because this is a package, pytest puts the repository root on ``sys.path``; this file also puts
``tests/`` itself there, so helper modules written to be imported bare (``from _fuzz_support
import ...``) keep working.
"""

import os as _os
import sys as _sys

_HERE = _os.path.dirname(_os.path.abspath(__file__))
if _HERE not in _sys.path:
    _sys.path.append(_HERE)
