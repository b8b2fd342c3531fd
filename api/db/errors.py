"""Errors of the store that a command reports in one line (no heavy imports: ``api.cli``
catches them)."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The store cannot be opened or upgraded as it is; the message says why and what to do."""
