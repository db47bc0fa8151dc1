"""GET /info (spec §7.1): no authentication, the exact shape the SDK relies on."""

from __future__ import annotations

import pytest

import evalql


@pytest.mark.parametrize("path", ["/info", "/api/v1/info", "/info/", "/api/v1/info/"])
async def test_info_without_key(api, path):
    response = await api.client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "version": "0.10.0",
        "license_expiration_time": None,
        "batch_ingest_config": {
            "use_multipart_endpoint": True, "scale_up_qsize_trigger": 1000, "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4, "size_limit": 100, "size_limit_bytes": 20971520,
        },
        "instance_flags": {"zstd_compression_enabled": True},
        "evalql_version": evalql.__version__,
    }


async def test_info_ignores_keys_and_rejects_other_methods(api):
    assert (await api.client.get("/info", headers={"X-API-Key": "nonsense"})).status_code == 200
    assert (await api.client.post("/info")).status_code == 405


def test_version_is_recent_enough():
    from evalql.rest.info import info_body

    major, minor, patch = (int(p) for p in info_body()["version"].split("."))
    assert (major, minor, patch) >= (0, 8, 10)
    flags = info_body()["instance_flags"]
    assert not flags.get("sdb_query_enabled") and flags.get("ch_query_enabled", True) is not False
    assert not flags.get("dataset_examples_multipart_enabled")
