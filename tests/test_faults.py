"""Writes under faults on a real local cluster: one of each fault kind, then the history is checked.

The long form with more rounds and seeds is `python3 -m tests.faults` (tests/faults.py).
"""

import random

from tests.faults import FAULT_KINDS, Api, LocalFaults, RoundConfig, analyze, format_report, plan_kinds, run_round

# kill-master rather than crash-master: the orchestrator must notice a death it did not cause.
SHORT_KINDS = ("kill-master", "crash-slave", "pause-master")


def test_faults_lose_no_acknowledged_write(make_cluster, tmp_path):
    cluster = make_cluster(slaves=2)
    faults = LocalFaults(Api(cluster.url), float(cluster.env["ZK_SESSION_TIMEOUT"]))
    config = RoundConfig(seed=11, seconds=45, kinds=SHORT_KINDS, faults=3, writers=4, rate=40)

    report = run_round(cluster.url, faults, config, tmp_path / "history.jsonl")
    table = format_report(report) + f"\nworker and orchestrator logs: {cluster.workdir}"
    print(table)

    assert [f["kind"] for f in report["faults"]] == plan_kinds(SHORT_KINDS, 3, random.Random(11))
    assert sorted(f["kind"] for f in report["faults"]) == sorted(SHORT_KINDS), table
    assert all(f["recovery"] is not None for f in report["faults"]), table
    assert report["acknowledged"] > 0, table
    assert report["missing"] == 0, table
    assert report["duplicates"] == 0, table
    assert report["divergent"] == 0, table
    assert report["failed present"] == 0, table
    assert report["unexpected"] == 0, table
    assert report["converged"], table
    assert report["ok after last fault"] > 0, table


def test_analyze_finds_lost_and_duplicate_writes():
    records = [
        {"type": "write", "id": "a", "outcome": "ok", "start": 0.0, "end": 0.1},
        {"type": "write", "id": "b", "outcome": "ok", "start": 0.2, "end": 0.3},
        {"type": "write", "id": "c", "outcome": "unknown", "start": 0.2, "end": 5.2},
        {"type": "write", "id": "c", "outcome": "ok", "start": 5.2, "end": 5.3},
        {"type": "write", "id": "d", "outcome": "failed", "start": 5.4, "end": 5.5},
        {"type": "write", "id": "e", "outcome": "unknown", "start": 5.6, "end": 9.0},
        {"type": "fault", "kind": "kill-master", "pid": 7, "start": 0.15, "end": 0.16, "recovered": 2.0},
        {"type": "final", "converged": True, "ids": ["a", "a", "c", "d", "e"], "count": 5,
         "workers": [{"role": "master", "digest": "x", "documents": 5},
                     {"role": "slave", "digest": "y", "documents": 5}]},
    ]

    report = analyze(records)

    assert report["acknowledged"] == 3
    assert report["missing"] == 1
    assert report["missing ids"] == ["b"]
    assert report["duplicates"] == 1
    assert report["failed present"] == 1
    assert report["unknown present"] == 1
    assert report["divergent"] == 1
    assert report["faults"][0]["gap"] == 5.0
    assert report["ok after last fault"] == 1
    assert not report["passed"]


def test_plan_kinds_one_per_group_first():
    for seed in range(20):
        planned = plan_kinds(FAULT_KINDS, 3, random.Random(seed))

        assert len(planned) == 3
        assert [kind in ("crash-master", "kill-master") for kind in planned].count(True) == 1, planned
        assert "crash-slave" in planned
        assert "pause-master" in planned
