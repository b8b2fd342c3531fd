"""``GET /metrics``: Prometheus text format.

Unauthenticated on purpose, as Prometheus scrapers expect: it carries only aggregate counts
(frames per lane, passages recorded, flags per status, live-stream clients, action-list size),
never a mark, an image, a user or an officer's action. Keep the port off public networks as you
would any scrape target; put a reverse proxy with authentication in front if that is not enough.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.app import AppState
from api.db import repository as repo
from api.db.models import FlagStatus
from api.db.session import session_scope
from api.events import QueueFrameSink
from api.schemas.lanes import LaneStatus

router = APIRouter(tags=["health"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StateCollector(Collector):
    """Reads the app state at scrape time (nothing to keep in step elsewhere)."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        lanes = state.lanes.all()
        received = CounterMetricFamily("hgv_lane_frames_received", "Frames pushed to a lane", labels=["lane"])
        dropped = CounterMetricFamily(
            "hgv_lane_frames_dropped", "Frames dropped because the lane's queue was full", labels=["lane"]
        )
        passages = CounterMetricFamily(
            "hgv_lane_lane_passages", "Passages recorded per lane", labels=["lane"]
        )
        up = GaugeMetricFamily(
            "hgv_lane_lane_up", "1 unless the lane is down (no frames, or stopped)", labels=["lane"]
        )
        reconnects = CounterMetricFamily(
            "hgv_lane_lane_reconnects",
            "Times a lane's stream was opened again after a failure",
            labels=["lane"],
        )
        gated = CounterMetricFamily(
            "hgv_lane_frames_gated", "Frames the motion gate skipped (nothing moved)", labels=["lane"]
        )
        for lane in lanes:
            received.add_metric([lane.lane_id], lane.frames_received)
            dropped.add_metric([lane.lane_id], lane.frames_dropped)
            passages.add_metric([lane.lane_id], lane.passages)
            up.add_metric([lane.lane_id], 0 if lane.status == LaneStatus.DOWN else 1)
            reconnects.add_metric([lane.lane_id], lane.reconnects)
            gated.add_metric([lane.lane_id], lane.frames_gated)
        yield from (received, dropped, passages, up, reconnects, gated)
        if state.passage_sink is not None:
            kept = state.passage_sink.counts
            spool = CounterMetricFamily(
                "hgv_lane_passages_kept",
                "Passages the store refused: spooled, replayed from the spool, unreadable spool lines "
                "(bad), lost (logged in full)",
                labels=["outcome"],
            )
            outcomes = (
                ("spooled", kept.spooled),
                ("replayed", kept.replayed),
                ("bad", kept.bad),
                ("lost", kept.lost),
            )
            for outcome, n in outcomes:
                spool.add_metric([outcome], n)
            yield spool
        refused = getattr(state.frame_sink, "refused", None)  # the lane runner's router counts them
        if isinstance(refused, int):
            yield CounterMetricFamily(
                "hgv_lane_frames_refused",
                "Pushed frames refused (409): a lane that takes no pushed frames, a camera it lacks",
                value=refused,
            )
        if isinstance(state.frame_sink, QueueFrameSink):
            queued = GaugeMetricFamily(
                "hgv_lane_frames_queued", "Frames waiting in the default sink", labels=["lane"]
            )
            for lane in lanes:
                queued.add_metric([lane.lane_id], state.frame_sink.queued(lane.lane_id))
            yield queued
        recorder = state.recorder
        if recorder is not None:
            recorded = CounterMetricFamily(
                "hgv_lane_passages_recorded",
                "Passages recorded, by what they did to the queue",
                labels=["action"],
            )
            for action, n in sorted(recorder.counts.items()):
                recorded.add_metric([action], n)
            yield recorded
            yield GaugeMetricFamily(
                "hgv_lane_action_list_entries",
                "Entries in the action list the matcher uses",
                value=len(recorder.matcher),
            )
        with session_scope(state.engine) as session:
            counts = repo.count_flags_by_status(session)
        flags = GaugeMetricFamily("hgv_lane_flags", "Flags by status", labels=["status"])
        for s in FlagStatus:
            flags.add_metric([s.value], counts.get(s.value, 0))
        yield flags
        yield GaugeMetricFamily(
            "hgv_lane_live_clients", "Connected live-queue streams", value=state.hub.n_clients
        )


@router.get("/metrics", summary="Prometheus metrics (no authentication: aggregate counts only)")
def metrics(request: Request) -> Response:
    """Prometheus text exposition; see the module docstring for why it needs no authentication."""
    state: AppState = request.app.state.lane
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
