"""``/v1/passages``: search stored passages and view their evidence crops.

Officers, supervisors and admins only. Every search, every passage view and every view of an
evidence crop is written to the audit log (who, when, from where)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse

from api.auth import Client, DbDep, OfficerUser, StateDep, audit
from api.db import repository as repo
from api.db.models import PassageRow
from api.routers.convert import mark_filter, passage_public
from api.schemas.passages import PassagePublic

router = APIRouter(tags=["passages"])

JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "The evidence crop"},
    404: {"description": "No such crop"},
}


@router.get("/passages", response_model=list[PassagePublic], summary="Search passages")
def search_passages(
    user: OfficerUser,
    db: DbDep,
    client: Client,
    mark: Annotated[
        str | None, Query(max_length=32, description="A plate read (voted text or any candidate)")
    ] = None,
    lane: Annotated[str | None, Query(max_length=64)] = None,
    from_ts_ms: Annotated[int | None, Query(ge=0)] = None,
    to_ts_ms: Annotated[int | None, Query(ge=0)] = None,
    flagged: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PassagePublic]:
    """Passages, newest first, by mark (normalised: case, spaces and hyphens do not matter), lane
    and time (ms since the epoch). Audited (``passage.search``)."""
    norm = mark_filter(mark)
    rows = repo.search_passages(
        db,
        mark=norm,
        lane_id=lane,
        from_ts_ms=from_ts_ms,
        to_ts_ms=to_ts_ms,
        flagged=flagged,
        limit=limit,
        offset=offset,
    )
    query = {"mark": norm, "lane": lane, "from_ts_ms": from_ts_ms, "to_ts_ms": to_ts_ms, "flagged": flagged}
    audit(db, user, "passage.search", client, {"query": query, "results": len(rows)})
    db.commit()
    return [passage_public(r) for r in rows]


def _passage(db: DbDep, passage_id: int) -> PassageRow:
    row = repo.get_passage(db, passage_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no passage {passage_id}")
    return row


@router.get("/passages/{passage_id}", response_model=PassagePublic, summary="One passage")
def get_passage(passage_id: int, user: OfficerUser, db: DbDep, client: Client) -> PassagePublic:
    """A passage with its plates and candidates. Audited (``passage.view``)."""
    row = _passage(db, passage_id)
    audit(db, user, "passage.view", client, {"passage": row.id, "uid": row.passage_uid})
    db.commit()
    return passage_public(row)


def _crop(state: StateDep, rel: str | None, what: str) -> Path:
    if not rel:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {what} crop was stored")
    root = state.settings.data_dir.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the {what} crop file is missing")
    return path


def _jpeg(path: Path) -> FileResponse:
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/passages/{passage_id}/crops/body", response_class=FileResponse, responses=JPEG, summary="Trailer crop"
)
def body_crop(passage_id: int, user: OfficerUser, db: DbDep, state: StateDep, client: Client) -> FileResponse:
    """The trailer (body) evidence crop. Audited (``evidence.view``)."""
    row = _passage(db, passage_id)
    path = _crop(state, row.body_crop_path, "body")
    audit(db, user, "evidence.view", client, {"passage": row.id, "crop": "body", "flag": row.flag_id})
    db.commit()
    return _jpeg(path)


@router.get(
    "/passages/{passage_id}/crops/plate/{position}",
    response_class=FileResponse,
    responses=JPEG,
    summary="Plate crop",
)
def plate_crop(
    passage_id: int, position: int, user: OfficerUser, db: DbDep, state: StateDep, client: Client
) -> FileResponse:
    """The evidence crop of plate ``position`` of the passage. Audited (``evidence.view``)."""
    row = _passage(db, passage_id)
    plate = next((p for p in row.plates if p.position == position), None)
    if plate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"passage {passage_id} has no plate {position}")
    path = _crop(state, plate.crop_path, "plate")
    audit(
        db,
        user,
        "evidence.view",
        client,
        {"passage": row.id, "crop": f"plate-{position}", "role": plate.role, "flag": row.flag_id},
    )
    db.commit()
    return _jpeg(path)
