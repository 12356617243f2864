"""Autoscaling by read count with a short window, on a real cluster."""


def test_reads_scale_out_then_quiet_window_scales_in(make_cluster):
    cluster = make_cluster(slaves=1, AUTOSCALE_WINDOW="10")
    for _ in range(45):
        response = cluster.post("/api/v1/db/read", {"collection": "scale", "filter": {}})
        assert response.status_code == 200
    assert cluster.status()["autoscaler"]["reads_in_window"] == 45

    workers = cluster.wait_for_serving(4, timeout=30)
    assert sum(1 for w in workers if w["role"] == "slave") == 3
    assert cluster.status()["autoscaler"]["target_slaves"] == 3

    workers = cluster.wait_for_serving(2, timeout=40)
    assert [w["role"] for w in workers] == ["master", "slave"]
    assert cluster.status()["autoscaler"]["target_slaves"] == 1
