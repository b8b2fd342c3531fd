from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, inspect, select

from api.actionlist import (
    ImportOutcome,
    ImportRejected,
    build_matcher,
    import_action_list,
    parse_csv,
    parse_mapping,
    version_diff,
)
from api.db import repository as repo
from api.db.models import ActionListEntry, ActionListVersion, MarkKind
from api.db.session import session_scope
from api.matching import MatchType

HEADER = "mark,kind,haulier,penalty_ref,amount_gbp,date,notes\n"
V1 = (
    HEADER + "WGM 1034,trailer,Haulier X,CP-2024-0183,2000,2024-03-01,\n"
    "AB12 CDE,vehicle,Acme Ltd,CP-2024-0001,1500.50,2024-01-05,first\n"
    "A1234567,trailer,Acme Ltd,CP-2024-0002,300,2024-02-02,\n"
)
V2 = (
    HEADER + "WGM1034,trailer,Haulier Y,CP-2024-0183,2000,2024-03-01,\n"  # haulier changed
    "AB12CDE,vehicle,Acme Ltd,CP-2024-0001,1500.5,2024-01-05,first\n"  # same (amount spelled differently)
    "NEW1234,trailer,New Co,CP-2024-0009,10,2024-04-01,\n"  # added; A1234567 removed
)


def do_import(engine: Engine, text: str | bytes, *, dry_run: bool = False) -> ImportOutcome:
    data = text.encode() if isinstance(text, str) else text
    with session_scope(engine) as session:
        return import_action_list(session, data, source_name="list.csv", dry_run=dry_run)


def errors_of(text: str | bytes, **kw: object) -> list[str]:
    result = parse_csv(text.encode() if isinstance(text, str) else text, **kw)  # type: ignore[arg-type]
    assert not result.ok and not result.entries
    return [str(e) for e in result.errors]


def test_parse_valid_file() -> None:
    result = parse_csv(("\ufeff" + V1).encode())
    assert result.ok
    first = result.entries[0]
    assert (first.mark, first.mark_as_given, first.kind, first.line_no) == (
        "WGM1034",
        "WGM 1034",
        MarkKind.TRAILER,
        2,
    )
    assert result.entries[1].amount_gbp == Decimal("1500.50")


def test_every_bad_row_is_reported_with_line_and_reason() -> None:
    text = (
        HEADER + "WGM1034,trailer,X,CP-1,1,2024-01-01,\n"
        "\n"  # blank lines are skipped but counted
        "X1,vehicle,h,p,1,2024-01-01,\n"  # line 4: fine (a UK dateless mark can be this short)
        "ZZ99ZZZ,lorry,h,p,-1,2024-13-01,\n"  # line 5: three errors
        "wgm-1034,trailer,h,p,1,2024-01-01,\n"  # line 6: duplicate after normalisation
        "AB12CDE,vehicle,,p,1.234,2024-01-01,\n"  # line 7: empty haulier, 3 decimals
        "AB12CDF,vehicle,h,p,1\n"  # line 8: too few fields
    )
    assert errors_of(text) == [
        "line 5: kind: kind 'lorry' is not 'vehicle' or 'trailer'",
        "line 5: amount_gbp: amount '-1' is out of range (0 to 9999999999.99)",
        "line 5: date: date '2024-13-01' is not an ISO 8601 date (YYYY-MM-DD)",
        "line 6: mark: duplicate mark WGM1034 (also on line 2)",
        "line 7: haulier: empty",
        "line 7: amount_gbp: amount '1.234' has more than 2 decimal places",
        "line 8: expected 7 fields, found 5",
    ]


@pytest.mark.parametrize(
    "mark",
    [
        "=cmd|' /C calc'!A0",
        "'; DROP TABLE action_list_entries; --",
        "<script>alert(1)</script>",
        "ABCDEF",
        "12345",
        "A",
        "AB12CDE1234567",
    ],
)
def test_marks_that_are_not_plate_like_are_rejected(mark: str) -> None:
    (error,) = errors_of(HEADER + f'"{mark}",vehicle,h,p,1,2024-01-01,\n')
    assert error.startswith("line 2: mark: mark ") and "not plate-like" in error


def test_missing_and_mapped_columns() -> None:
    (error,) = errors_of("registration,kind,haulier,penalty_ref,amount_gbp\nAB12CDE,vehicle,h,p,1\n")
    assert "missing column(s): mark, date" in error and "--map" in error
    text = "Registration,Type,haulier,penalty_ref,amount_gbp,date,extra\nAB12CDE,vehicle,h,p,1,2024-01-01,z\n"
    result = parse_csv(text.encode(), parse_mapping(["registration=mark", "type=kind"]))
    assert result.ok and result.entries[0].mark == "AB12CDE" and result.entries[0].notes == ""
    assert result.warnings == ("ignored column(s): 'extra'",)
    with pytest.raises(ValueError, match="not one of"):
        parse_mapping(["registration=plate"])
    with pytest.raises(ValueError, match="FILE_COLUMN=COLUMN"):
        parse_mapping(["registration"])


def test_wrong_encodings_get_a_clear_message() -> None:
    (utf16,) = errors_of(V1.encode("utf-16"))
    assert "UTF-16" in utf16 and "CSV UTF-8" in utf16
    latin1 = (HEADER + "AB12CDE,vehicle,Société Générale,p,1,2024-01-01,\n").encode("latin-1")
    (error,) = errors_of(latin1)
    assert error.startswith("line 2: the file is not UTF-8 (byte 0xE9")


def test_huge_line_is_a_clear_error_not_a_crash() -> None:
    text = (
        HEADER
        + "AB12CDE,vehicle,h,p,1,2024-01-01,ok\n"
        + "B12CDE,vehicle,h,p,1,2024-01-01,"
        + "x" * 10_000_000
    )
    (error,) = errors_of(text)
    assert error.startswith("line 3: unreadable CSV: a field is longer than the CSV limit")


def test_long_fields_and_control_characters_are_rejected() -> None:
    errs = errors_of(
        HEADER + f"AB12CDE,vehicle,{'h' * 201},p,1,2024-01-01,\nAB12CDF,vehicle,h\x00x,p,1,2024-01-01,\n"
    )
    assert errs == [
        "line 2: haulier: longer than 200 characters (201)",
        "line 3: haulier: contains control characters",
    ]


def test_empty_files() -> None:
    assert errors_of("") == ["file: the file is empty"]
    assert errors_of(HEADER) == ["file: the file has a header but no entries"]


def test_import_versions_and_diff(engine: Engine) -> None:
    first = do_import(engine, V1)
    second = do_import(engine, V2)
    assert first.version_id == 1 and first.diff.added == ("A1234567", "AB12CDE", "WGM1034")
    assert second.version_id == 2 and second.previous_version_id == 1
    diff = second.diff
    assert diff.added == ("NEW1234",) and diff.removed == ("A1234567",)
    assert [(c.mark, c.fields) for c in diff.changed] == [("WGM1034", ("haulier",))]
    with session_scope(engine) as s:
        assert [e.mark for e in repo.entries_at(s, 1)] == ["A1234567", "AB12CDE", "WGM1034"]
        assert [e.mark for e in repo.entries_at(s)] == ["AB12CDE", "NEW1234", "WGM1034"]
        assert {e.mark: e.haulier for e in repo.entries_at(s, 1)}["WGM1034"] == "Haulier X"
        assert {e.mark: e.haulier for e in repo.entries_at(s, 2)}["WGM1034"] == "Haulier Y"
        assert version_diff(s, 2) == diff
        v2 = repo.get_version(s, 2)
        assert v2 is not None and (v2.n_added, v2.n_removed, v2.n_changed, v2.n_entries) == (1, 1, 1, 3)
        assert [a.action for a in repo.audit_entries(s)] == ["actionlist.import", "actionlist.import"]


def test_failed_import_leaves_the_previous_version_intact(engine: Engine) -> None:
    do_import(engine, V1)
    bad = V2 + "=cmd|' /C calc'!A0,vehicle,h,p,1,2024-01-01,\n"
    with pytest.raises(ImportRejected) as exc:
        do_import(engine, bad)
    assert str(exc.value.errors[0]).startswith("line 5: mark:")
    with session_scope(engine) as s:
        assert [v.id for v in repo.list_versions(s)] == [1]
        assert [e.mark for e in repo.entries_at(s)] == ["A1234567", "AB12CDE", "WGM1034"]
        assert s.scalar(select(func.count()).select_from(ActionListEntry)) == 3
        assert len(repo.audit_entries(s)) == 1


def test_failure_inside_the_transaction_rolls_everything_back(engine: Engine) -> None:
    do_import(engine, V1)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        import_action_list(session, V2.encode(), source_name="v2.csv")
        raise RuntimeError("crash after the rows were written, before commit")
    with session_scope(engine) as s:
        assert [v.id for v in repo.list_versions(s)] == [1]
        assert [e.mark for e in repo.entries_at(s)] == ["A1234567", "AB12CDE", "WGM1034"]


def test_dry_run_stores_nothing(engine: Engine) -> None:
    do_import(engine, V1)
    outcome = do_import(engine, V2, dry_run=True)
    assert outcome.dry_run and outcome.version_id is None and outcome.diff.added == ("NEW1234",)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ActionListVersion)) == 1


def test_hostile_text_is_stored_verbatim(engine: Engine) -> None:
    hostile = {
        "haulier": "=cmd|' /C calc'!A0",
        "penalty_ref": "'; DROP TABLE action_list_entries; --",
        "notes": '<script>alert("x")</script> & <b>bold</b>',
    }
    text = HEADER + '"AB12CDE",vehicle,"{haulier}","{penalty_ref}",1,2024-01-01,"{notes}"\n'.format(
        **{k: v.replace('"', '""') for k, v in hostile.items()}
    )
    do_import(engine, text)
    with session_scope(engine) as s:
        (row,) = repo.entries_at(s)
        assert (row.haulier, row.penalty_ref, row.notes) == (
            hostile["haulier"],
            hostile["penalty_ref"],
            hostile["notes"],
        )
    assert "action_list_entries" in inspect(engine).get_table_names()


def test_matcher_from_the_current_version(engine: Engine) -> None:
    with session_scope(engine) as s:
        assert len(build_matcher(s)) == 0 and build_matcher(s).version_id is None
    do_import(engine, V1)
    do_import(engine, V2)
    with session_scope(engine) as s:
        current = build_matcher(s)
        old = build_matcher(s, version_id=1)
        with pytest.raises(LookupError):
            build_matcher(s, version_id=9)
    assert current.version_id == 2 and len(current) == 3
    (m,) = current.match(["WGM1O34"])
    assert m.match_type is MatchType.LOOKALIKE and m.entry.haulier == "Haulier Y"
    assert current.match(["A1234567"]) == () and old.match(["A1234567"])[0].match_type is MatchType.EXACT
