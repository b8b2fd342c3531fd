from __future__ import annotations

import pytest

from vision.pipeline.config import RegionOfInterest
from vision.pipeline.roi import MIN_LANE_AREA, roi_problem


def test_a_whole_frame_and_a_fair_region_are_regions() -> None:
    assert roi_problem(()) is None
    assert roi_problem([(0.1, 0.2), (0.9, 0.2), (0.9, 1.0)], min_area=MIN_LANE_AREA) is None


@pytest.mark.parametrize(
    ("polygon", "says"),
    [
        ([(0.1, 0.1), (0.9, 0.1)], "at least 3 points"),
        ([(64.0, 72.0), (1200.0, 72.0), (1200.0, 700.0)], "not pixels"),
    ],
)
def test_the_config_and_the_settings_refuse_the_same_regions(
    polygon: list[tuple[float, float]], says: str
) -> None:
    problem = roi_problem(polygon)
    assert problem is not None and says in problem
    with pytest.raises(ValueError, match=says):
        RegionOfInterest(tuple(polygon))


def test_only_a_lanes_settings_ask_for_an_area() -> None:
    line = [(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)]
    assert roi_problem(line) is None  # process --roi and the config as before
    problem = roi_problem(line, min_area=MIN_LANE_AREA)
    assert problem is not None and "encloses 0.00% of the frame" in problem
