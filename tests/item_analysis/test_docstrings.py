"""The runnable examples in the public docstrings (checked with doctest)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["scoring", "classical", "flags", "irt", "irt_fit", "forensics", "report", "files"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"item_analysis.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
