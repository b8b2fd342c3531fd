"""The officers' flag workflow: a state machine with its transition table as data. Pure (no store).

::

    new --claim--> claimed --verify_read--> read_verified --direct_to_search--> directed_to_search
                     |  ^                                 \\                          |
                     |  +-- release (back to new)           +--dispose (not stopped)  +--dispose
                     +--reject_read (reason, corrected mark)--> read_rejected --direct_to_search/dispose

- Only officers, supervisors and admins act on flags (cameras never do).
- ``claim`` takes a ``new`` flag for one officer. Afterwards only the claiming officer acts on it;
  a supervisor (or admin) may act on anyone's claim (e.g. ``release`` it when an officer left).
- ``dispose`` records the :class:`~api.db.models.Outcome`: after a search (``directed_to_search``)
  ``no_find``, ``entrants_found`` (how many, at least 1), ``security_breach`` (no entrants) or
  ``not_stopped``; without a search only ``not_stopped`` (why, in the note). Searches name the
  detection methods used (at least one); ``not_stopped`` names none.

The store applies a planned transition with a conditional ``UPDATE ... WHERE status = ? AND
version = ?`` (:func:`api.db.repository.apply_transition`), so of two officers racing for the
same flag exactly one wins.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.db.models import FlagStatus, Outcome, UserRole


class Action(enum.StrEnum):
    """What an officer does to a flag."""

    CLAIM = "claim"
    RELEASE = "release"
    VERIFY_READ = "verify_read"
    REJECT_READ = "reject_read"
    DIRECT_TO_SEARCH = "direct_to_search"
    DISPOSE = "dispose"


class DetectionMethod(enum.StrEnum):
    """How a lorry was searched."""

    CO2_PROBE = "co2_probe"
    HEARTBEAT = "heartbeat"
    SCANNER = "scanner"
    DOG = "dog"
    PHYSICAL = "physical"


S, A = FlagStatus, Action
TRANSITIONS: Mapping[tuple[FlagStatus, Action], FlagStatus] = {
    (S.NEW, A.CLAIM): S.CLAIMED,
    (S.CLAIMED, A.RELEASE): S.NEW,
    (S.CLAIMED, A.VERIFY_READ): S.READ_VERIFIED,
    (S.CLAIMED, A.REJECT_READ): S.READ_REJECTED,
    (S.READ_VERIFIED, A.DIRECT_TO_SEARCH): S.DIRECTED_TO_SEARCH,
    (S.READ_REJECTED, A.DIRECT_TO_SEARCH): S.DIRECTED_TO_SEARCH,
    (S.READ_VERIFIED, A.DISPOSE): S.DISPOSED,
    (S.READ_REJECTED, A.DISPOSE): S.DISPOSED,
    (S.DIRECTED_TO_SEARCH, A.DISPOSE): S.DISPOSED,
}
"""``(from status, action) -> to status``: every transition the workflow allows."""

SEARCH_OUTCOMES: frozenset[Outcome] = frozenset(
    {Outcome.NO_FIND, Outcome.ENTRANTS_FOUND, Outcome.SECURITY_BREACH}
)
"""Outcomes that only a search can have."""

ACTING_ROLES: frozenset[UserRole] = frozenset({UserRole.OFFICER, UserRole.SUPERVISOR, UserRole.ADMIN})
OVERRIDING_ROLES: frozenset[UserRole] = frozenset({UserRole.SUPERVISOR, UserRole.ADMIN})


class WorkflowError(ValueError):
    """A refused action; ``reason`` says why in words an officer reads."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransitionRefused(WorkflowError):
    """The flag's state does not allow the action (HTTP 409)."""


class NotPermitted(WorkflowError):
    """The actor's role does not allow the action (HTTP 403)."""


class InvalidDetails(WorkflowError):
    """The action's details are inconsistent, e.g. entrants found but none counted (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts."""

    name: str
    role: UserRole


@dataclass(frozen=True, slots=True)
class FlagState:
    """What the workflow needs to know about a flag."""

    status: FlagStatus
    claimed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Disposition:
    """How a flag ends: the outcome, entrants found, detection methods used and a note (why not
    stopped, what was found)."""

    outcome: Outcome
    entrants_found: int = 0
    methods: tuple[DetectionMethod, ...] = ()
    note: str = ""


_LABEL = {
    S.NEW: "new",
    S.CLAIMED: "claimed",
    S.READ_VERIFIED: "read verified",
    S.READ_REJECTED: "read rejected",
    S.DIRECTED_TO_SEARCH: "directed to search",
    S.DISPOSED: "disposed",
}


def next_status(status: FlagStatus, action: Action) -> FlagStatus | None:
    """The status ``action`` leads to from ``status``, or ``None`` when the table has no such move."""
    return TRANSITIONS.get((status, action))


def check(state: FlagState, action: Action, actor: Actor) -> FlagStatus:
    """The status after ``action`` by ``actor``; raises :class:`NotPermitted` (role) or
    :class:`TransitionRefused` (state, someone else's claim) with the reason."""
    if actor.role not in ACTING_ROLES:
        raise NotPermitted(f"role {actor.role} may not act on flags")
    target = next_status(state.status, action)
    if target is None:
        can = [a.value for a in allowed_actions(state.status)]
        raise TransitionRefused(
            f"cannot {action.value.replace('_', ' ')} a flag that is {_LABEL[state.status]}"
            + (f"; possible: {', '.join(can)}" if can else "; it is closed")
        )
    others = state.status is not S.NEW and state.claimed_by not in (None, actor.name)
    if others and actor.role not in OVERRIDING_ROLES:
        raise TransitionRefused(
            f"the flag is claimed by {state.claimed_by}; only they or a supervisor may act"
        )
    return target


def allowed_actions(status: FlagStatus) -> tuple[Action, ...]:
    """Actions the table allows from ``status`` (in the table's order)."""
    return tuple(a for (s, a) in TRANSITIONS if s is status)


def actions_for(state: FlagState, actor: Actor) -> tuple[Action, ...]:
    """Actions ``actor`` may take now (what the page shows as buttons)."""
    out = []
    for action in allowed_actions(state.status):
        try:
            check(state, action, actor)
        except WorkflowError:
            continue
        out.append(action)
    return tuple(out)


def check_disposition(status: FlagStatus, disposition: Disposition) -> Disposition:
    """``disposition`` if it fits a flag leaving ``status``; raises :class:`InvalidDetails` (the
    details contradict each other) or :class:`TransitionRefused` (a search outcome without a search).

    Detection methods are deduplicated (order kept); the note is stripped.
    """
    d = disposition
    methods = tuple(dict.fromkeys(d.methods))
    note = d.note.strip()
    if d.outcome in SEARCH_OUTCOMES and status is not S.DIRECTED_TO_SEARCH:
        raise TransitionRefused(f"outcome {d.outcome.value} needs a search: direct the flag to search first")
    if d.outcome is Outcome.ENTRANTS_FOUND and d.entrants_found < 1:
        raise InvalidDetails("entrants found: give how many (at least 1)")
    if d.outcome is not Outcome.ENTRANTS_FOUND and d.entrants_found:
        raise InvalidDetails(f"outcome {d.outcome.value} has no entrants; use entrants_found instead")
    if d.outcome in SEARCH_OUTCOMES and not methods:
        raise InvalidDetails("name the detection methods used in the search (at least one)")
    if d.outcome is Outcome.NOT_STOPPED:
        if methods:
            raise InvalidDetails("a lorry that was not stopped was not searched: give no detection methods")
        if not note:
            raise InvalidDetails("not stopped: say why in the note")
    return Disposition(d.outcome, d.entrants_found, methods, note)


def check_rejection(reason: str, corrected_mark: str | None) -> tuple[str, str | None]:
    """``(reason, corrected mark)`` stripped; the reason is required, the correction optional."""
    reason = reason.strip()
    if not reason:
        raise InvalidDetails("say why the read is wrong")
    corrected = (corrected_mark or "").strip() or None
    return reason, corrected


def check_body_feedback(state: FlagState, actor: Actor) -> None:
    """Whether ``actor`` may confirm or correct the trailer body type of the flag's passages.

    Not a transition (the status stays): a label for the model team. Allowed once the flag is
    claimed, in every later status including ``disposed`` (the search is where an officer sees the
    trailer best), for the claiming officer or a supervisor/admin. Raises :class:`NotPermitted`
    (role) or :class:`TransitionRefused` (not claimed, someone else's claim) with the reason.
    """
    if actor.role not in ACTING_ROLES:
        raise NotPermitted(f"role {actor.role} may not act on flags")
    if state.status is S.NEW:
        raise TransitionRefused("claim the flag before confirming or correcting its body type")
    if state.claimed_by not in (None, actor.name) and actor.role not in OVERRIDING_ROLES:
        raise TransitionRefused(
            f"the flag is claimed by {state.claimed_by}; only they or a supervisor may act"
        )


def may_give_body_feedback(state: FlagState, actor: Actor) -> bool:
    """True when :func:`check_body_feedback` allows ``actor`` (what the page shows controls for)."""
    try:
        check_body_feedback(state, actor)
    except WorkflowError:
        return False
    return True


def describe(actions: Sequence[Action]) -> list[str]:
    """The actions' values (for JSON)."""
    return [a.value for a in actions]
