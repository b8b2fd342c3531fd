"""What makes a region of interest a lane's: a light check shared by
:class:`vision.pipeline.config.RegionOfInterest` and the settings (``api.settings``), which must
not import OpenCV to say so."""

from __future__ import annotations

from collections.abc import Sequence

MIN_LANE_AREA = 0.01
"""The least share of the frame a configured lane's region may enclose."""


def roi_problem(polygon: Sequence[tuple[float, float]], *, min_area: float = 0.0) -> str | None:
    """Why ``polygon`` (normalised ``(x, y)`` points; empty: the whole frame) is no region of
    interest, or ``None``: under 3 points, a point outside [0, 1] (pixels given for fractions),
    or an area (shoelace) under ``min_area`` of the frame."""
    if not polygon:
        return None
    if len(polygon) < 3:
        return "a region of interest needs at least 3 points (or none for the whole frame)"
    outside = [p for p in polygon if not (0.0 <= p[0] <= 1.0 and 0.0 <= p[1] <= 1.0)]
    if outside:
        return (
            f"point {tuple(outside[0])} is outside the frame: points are fractions of its width and "
            "height in [0, 1], not pixels (x 640 of 1280 is 0.5)"
        )
    pts = list(polygon)
    area = abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True))) / 2
    if area < min_area:
        return (
            f"the region encloses {area:.2%} of the frame: a lane needs at least {min_area:.0%} (are two "
            "points the same, or all on a line?)"
        )
    return None
