"""``/v1/actionlist``: import the action list (CSV upload), list it, its versions, and match a read.

Reading needs an officer (or above); importing a supervisor or admin. Imports reuse
:func:`api.actionlist.import_action_list` (validated, all or nothing, versioned) and rebuild the
matcher the flag rules use as soon as they commit."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from api.actionlist import (
    ConcurrentImport,
    EntryView,
    ImportRejected,
    diff_summary,
    import_action_list,
    parse_mapping,
    version_diff,
    version_summary,
)
from api.auth import Client, DbDep, OfficerUser, StateDep, SupervisorUser, audit
from api.db import repository as repo
from api.routers.convert import mark_filter
from api.schemas.actionlist import (
    DiffPublic,
    EntriesPublic,
    EntryPublic,
    ImportRejectedPublic,
    ImportResult,
    MatchPublic,
    MatchResult,
    RowErrorPublic,
    VersionDetail,
    VersionPublic,
)

router = APIRouter(tags=["action list"])

MAX_CSV_BYTES = 50_000_000


@router.post(
    "/actionlist/imports",
    response_model=ImportResult,
    status_code=status.HTTP_201_CREATED,
    summary="Import the action list (text/csv body)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
    responses={
        409: {"description": "Another import committed meanwhile"},
        413: {"description": "File too large"},
        422: {"model": ImportRejectedPublic, "description": "Rejected: every bad row with its line"},
    },
)
async def import_list(
    request: Request,
    user: SupervisorUser,
    state: StateDep,
    client: Client,
    source_name: Annotated[str, Query(min_length=1, max_length=255)] = "upload.csv",
    dry_run: bool = False,
    map_: Annotated[list[str] | None, Query(alias="map", description="FILE_COLUMN=COLUMN")] = None,
) -> ImportResult | JSONResponse:
    """The CSV (``mark,kind,haulier,penalty_ref,amount_gbp,date,notes``, UTF-8) is the request
    body. Any bad row rejects the file (422, every error with its line) and nothing is stored;
    an accepted file becomes a new version (201) and the matcher is rebuilt. ``dry_run`` only
    validates and returns the diff."""
    import asyncio  # noqa: PLC0415

    try:
        mapping = parse_mapping(map_ or [])
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"file over {MAX_CSV_BYTES} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    return await asyncio.to_thread(_import, state, data, source_name, mapping, dry_run, user.name, client)


def _import(
    state: StateDep,
    data: bytes,
    source_name: str,
    mapping: dict[str, str],
    dry_run: bool,
    actor: str,
    client: Client,
) -> ImportResult | JSONResponse:
    from api.db.session import session_factory  # noqa: PLC0415

    with session_factory(state.engine)() as db:
        try:
            outcome = import_action_list(
                db, data, source_name=source_name, column_map=mapping, dry_run=dry_run, actor=actor
            )
        except ImportRejected as exc:
            db.rollback()
            audit(
                db,
                actor,
                "actionlist.import_rejected",
                client,
                {"source": source_name, "errors": len(exc.errors)},
            )
            db.commit()
            body = ImportRejectedPublic(
                detail=str(exc),
                errors=[RowErrorPublic(**asdict(e)) for e in exc.errors],
                warnings=list(exc.warnings),
            )
            return JSONResponse(body.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        except ConcurrentImport as exc:
            db.rollback()
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        if not dry_run:
            audit(
                db, actor, "actionlist.upload", client, {"version": outcome.version_id, "source": source_name}
            )
        db.commit()
    if not dry_run:
        state.passage_recorder().rebuild_matcher()
    return ImportResult(
        version=outcome.version_id,
        previous=outcome.previous_version_id,
        entries=outcome.n_entries,
        dry_run=outcome.dry_run,
        warnings=list(outcome.warnings),
        diff=DiffPublic.model_validate(diff_summary(outcome.diff)),
    )


@router.get(
    "/actionlist", response_model=EntriesPublic, summary="The entries of the current (or a given) version"
)
def list_entries(
    user: OfficerUser, db: DbDep, client: Client, version: Annotated[int | None, Query(ge=1)] = None
) -> EntriesPublic:
    """Every entry (marks, hauliers, penalties) of one version. Audited (``actionlist.view``)."""
    found = repo.get_version(db, version) if version else repo.latest_version(db)
    if found is None:
        if version:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no action-list version {version}")
        return EntriesPublic(version=None, entries=[])
    rows = [EntryPublic(**asdict(EntryView.of(r))) for r in repo.entries_at(db, found.id)]
    audit(db, user, "actionlist.view", client, {"version": found.id, "entries": len(rows)})
    db.commit()
    return EntriesPublic(version=found.id, entries=rows)


@router.get("/actionlist/versions", response_model=list[VersionPublic], summary="Every imported version")
def list_versions(user: OfficerUser, db: DbDep) -> list[VersionPublic]:
    return [VersionPublic.model_validate(version_summary(v)) for v in repo.list_versions(db)]


@router.get(
    "/actionlist/versions/{version}", response_model=VersionDetail, summary="One version with its diff"
)
def get_version(version: int, user: OfficerUser, db: DbDep, client: Client) -> VersionDetail:
    """One version and the marks it added, removed and changed. Audited (``actionlist.view``)."""
    found = repo.get_version(db, version)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no action-list version {version}")
    detail = VersionDetail.model_validate(
        {**version_summary(found), "diff": diff_summary(version_diff(db, version))}
    )
    audit(db, user, "actionlist.view", client, {"version": version, "diff": True})
    db.commit()
    return detail


@router.get("/actionlist/search", response_model=MatchResult, summary="Match a read against the current list")
def search(
    user: OfficerUser,
    state: StateDep,
    db: DbDep,
    client: Client,
    mark: Annotated[str, Query(min_length=1, max_length=32)],
    candidate: Annotated[list[str] | None, Query(max_length=10)] = None,
) -> MatchResult:
    """Exact, look-alike and edit-distance matches of ``mark`` (and other reader candidates),
    with how each matched. Audited (``actionlist.search``)."""
    mark_filter(mark)  # 422 for a mark with no letter or digit, as the other searches
    matcher = state.passage_recorder().matcher
    matches = matcher.match([mark, *(candidate or [])])
    audit(db, user, "actionlist.search", client, {"mark": mark, "matches": len(matches)})
    db.commit()
    return MatchResult(
        query=mark,
        version=matcher.version_id,
        matches=[
            MatchPublic(
                mark=m.entry.mark,
                kind=m.entry.kind,
                haulier=m.entry.haulier,
                penalty_ref=m.entry.penalty_ref,
                match_type=m.match_type.value,
                distance=m.distance,
                candidate=m.candidate,
                candidate_rank=m.candidate_rank,
                how=m.describe(),
            )
            for m in matches
        ],
    )
