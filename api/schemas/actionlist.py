"""The action list: versions, entries, imports and matches."""

from __future__ import annotations

from pydantic import BaseModel


class VersionPublic(BaseModel):
    """One import of the action list."""

    version: int
    created_ts_ms: int
    source: str
    sha256: str
    imported_by: str
    previous: int | None
    entries: int
    added: int
    removed: int
    changed: int


class ChangePublic(BaseModel):
    mark: str
    fields: list[str]


class DiffPublic(BaseModel):
    """Marks a version added, removed and changed."""

    added: list[str]
    removed: list[str]
    changed: list[ChangePublic]


class VersionDetail(VersionPublic):
    diff: DiffPublic


class EntryPublic(BaseModel):
    """One action-list entry."""

    mark: str
    kind: str
    haulier: str
    penalty_ref: str
    amount_gbp: str
    date: str
    notes: str


class EntriesPublic(BaseModel):
    version: int | None
    entries: list[EntryPublic]


class ImportResult(BaseModel):
    """An accepted import (or dry run) with its diff against the previous version."""

    version: int | None
    previous: int | None
    entries: int
    dry_run: bool
    warnings: list[str]
    diff: DiffPublic


class RowErrorPublic(BaseModel):
    line: int
    reason: str
    column: str | None


class ImportRejectedPublic(BaseModel):
    """Why a file was rejected (nothing was stored)."""

    detail: str
    errors: list[RowErrorPublic]
    warnings: list[str]


class MatchPublic(BaseModel):
    """An entry a read matched, and how."""

    mark: str
    kind: str
    haulier: str
    penalty_ref: str
    match_type: str
    distance: int
    candidate: str
    candidate_rank: int
    how: str


class MatchResult(BaseModel):
    query: str
    version: int | None
    matches: list[MatchPublic]
