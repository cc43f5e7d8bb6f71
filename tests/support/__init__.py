"""Helpers the tests share, imported as ``support.<module>`` from any test folder.

``tests/`` is on ``sys.path`` (pytest's ``pythonpath`` setting in pyproject.toml), so this package
is found the same way from every folder; fixtures and hooks stay in the ``conftest.py`` files.
"""

from pathlib import Path

#: The repository's root.
ROOT = Path(__file__).resolve().parents[2]
