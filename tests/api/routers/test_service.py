"""Metrics, the audit log, the page's security headers and the OpenAPI document."""

from __future__ import annotations

from typing import Any


def test_metrics_are_prometheus_text_without_marks(api: Any) -> None:
    api.passage("AB12CDE")
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'hgv_lane_flags{status="new"} 1.0' in text
    assert 'hgv_lane_passages_recorded_total{action="created"} 1.0' in text
    assert "hgv_lane_action_list_entries 2.0" in text
    assert "AB12CDE" not in text


def test_audit_log_filters_and_roles(api: Any) -> None:
    flag = api.passage("AB12CDE").flag_id
    api.client.get(f"/v1/flags/{flag}", headers=api.auth("officer"))
    api.client.post(f"/v1/flags/{flag}/claim", headers=api.auth("officer"))
    r = api.client.get(
        "/v1/audit", params={"action": "flag.", "actor": "officer"}, headers=api.auth("supervisor")
    )
    assert r.status_code == 200
    assert [a["action"] for a in r.json()] == ["flag.claim", "flag.view"]
    assert r.json()[0]["client_ip"] == "testclient" and r.json()[0]["user_agent"]


def test_the_page_is_served_with_a_strict_csp(api: Any) -> None:
    r = api.client.get("/")
    assert r.status_code == 200 and "<title>HGV lane" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    for asset in ("/static/app.js", "/static/app.css"):
        assert api.client.get(asset).status_code == 200
    assert "http" not in r.text.replace("http-equiv", "")  # nothing from elsewhere


def test_openapi_lists_the_resources(api: Any) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for p in (
        "/v1/flags",
        "/v1/flags/{flag_id}/claim",
        "/v1/flags/stream",
        "/v1/lanes/{lane_id}/frames",
        "/v1/passages",
        "/v1/actionlist/imports",
        "/v1/users",
        "/v1/tokens",
        "/v1/audit",
        "/metrics",
        "/health",
    ):
        assert p in paths, p


def test_api_docs_load_their_scripts_from_this_service(api: Any) -> None:
    """Swagger UI and ReDoc name no CDN: their scripts and styles are served here (a port's
    network often has no internet)."""
    for path, assets in (
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ):
        page = api.client.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "https://" not in page.text and "cdn" not in page.text.lower(), path
        assert page.headers["x-frame-options"] == "DENY", path  # no other site frames them
        for asset in assets:
            url = next(part.split('"')[0] for part in page.text.split('"/') if asset in part.split('"')[0])
            r = api.client.get("/" + url)
            assert r.status_code == 200 and len(r.content) > 10_000, url
