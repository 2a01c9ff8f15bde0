"""Checks on the APIs' interactive documentation."""

from __future__ import annotations


def assert_docs_work_offline(client: object) -> None:
    """``/docs`` loads Swagger UI from the app itself (the machines it runs on may have no internet)."""
    import re

    page = client.get("/docs")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/"), f"/docs loads {asset} from another host"
        assert client.get(asset).status_code == 200, asset  # type: ignore[attr-defined]
