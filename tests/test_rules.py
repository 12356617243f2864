"""Pure logic: log-entry validity, autoscale arithmetic, reconciliation plan, election order."""

from orchestrator.autoscaler import Autoscaler, desired_slaves
from orchestrator.reconciler import plan
from worker.election import contender_name, leader_of
from worker.log_rules import EpochState, marker


def write(epoch, master):
    return {"kind": "write", "epoch": epoch, "master": master, "id": "w"}


def test_entries_before_first_marker_are_void():
    state = EpochState()
    assert not state.observe(write(0, "a"))


def test_marker_makes_its_master_owner():
    state = EpochState()
    assert state.observe(marker(1, "a"))
    assert state.observe(write(1, "a"))
    assert not state.observe(write(1, "b"))


def test_newer_marker_voids_old_master():
    state = EpochState()
    state.observe(marker(1, "a"))
    assert state.observe(marker(2, "b"))
    assert not state.observe(write(1, "a"))
    assert state.observe(write(2, "b"))


def test_second_marker_of_same_epoch_is_void():
    state = EpochState()
    assert state.observe(marker(1, "a"))
    assert state.observe(marker(2, "b"))
    assert not state.observe(marker(2, "c"))
    assert not state.observe(write(2, "c"))
    assert state.observe(write(2, "b"))


def test_lower_marker_after_higher_is_void():
    state = EpochState()
    state.observe(marker(3, "a"))
    assert not state.observe(marker(2, "b"))
    assert state.owner == "a"


def test_desired_slaves_rounds_up():
    assert desired_slaves(0, 20, 1, 8) == 1
    assert desired_slaves(20, 20, 1, 8) == 1
    assert desired_slaves(21, 20, 1, 8) == 2
    assert desired_slaves(45, 20, 1, 8) == 3
    assert desired_slaves(1000, 20, 1, 8) == 8
    assert desired_slaves(0, 20, 2, 8) == 2


def test_autoscaler_first_tick_one_window_after_first_read():
    scaler = Autoscaler(window=10, reads_per_slave=20, min_slaves=1, max_slaves=8)
    assert scaler.tick(100.0) is None
    for _ in range(45):
        scaler.count_read(100.0)
    assert scaler.tick(109.9) is None
    assert scaler.tick(110.0) == 3
    assert scaler.reads == 0


def test_autoscaler_quiet_window_scales_in():
    scaler = Autoscaler(window=10, reads_per_slave=20, min_slaves=1, max_slaves=8)
    for _ in range(45):
        scaler.count_read(0.0)
    scaler.tick(10.0)
    assert scaler.tick(20.0) == 1


def test_autoscaler_late_tick_counts_missed_windows_as_quiet():
    scaler = Autoscaler(window=10, reads_per_slave=20, min_slaves=1, max_slaves=8)
    for _ in range(45):
        scaler.count_read(0.0)
    assert scaler.tick(35.0) is None  # 3 slaves after the first window, 1 after the next: back to 1
    assert scaler.target == 1
    assert scaler.next_tick == 40.0


def test_plan_starts_first_worker_alone():
    assert plan(alive=0, stopping=0, has_leader=False, target_slaves=3) == 1
    assert plan(alive=1, stopping=0, has_leader=False, target_slaves=3) == 0


def test_plan_fills_and_trims_to_target():
    assert plan(alive=1, stopping=0, has_leader=True, target_slaves=2) == 2
    assert plan(alive=3, stopping=0, has_leader=True, target_slaves=2) == 0
    assert plan(alive=5, stopping=0, has_leader=True, target_slaves=2) == -2
    assert plan(alive=5, stopping=2, has_leader=True, target_slaves=2) == 0


def test_election_leader_is_lowest_pid():
    children = [contender_name(pid, wid) for pid, wid in [(900, "c"), (12, "a"), (100, "b")]]
    assert leader_of(children) == "a"
    assert leader_of([]) is None


def test_contender_names_sort_by_pid_numerically():
    assert contender_name(99, "x") < contender_name(100, "y")
