"""Strongroom's Qt-free core: everything that computes, checks or stores.

Nothing under this package may import PySide6 (tests/core/test_no_qt.py enforces it),
so every rule here can be tested, scripted and reused by the command line.
"""
