import math

from pool.policy import (
    SATURATED,
    SLOT_UTILISATION,
    ArrivalRate,
    creation_slots,
    creations_to_start,
    erlang_c,
    expected_wait_s,
    planning_rate,
    prewarm_target,
    slot_queue_reached,
    smoothed,
    surplus_to_destroy,
)


def reached(mean: float, n: int) -> float:
    """The probability that a Poisson count of mean `mean` is at least `n`."""
    return 1 - sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(n))


def test_steady_arrivals_converge_to_their_rate():
    rate = ArrivalRate()
    for i in range(600):  # 5 per second for 120 s
        rate = rate.observe(i * 0.2, window_s=10.0)
    assert abs(rate.read(120.0, 10.0) - 5.0) < 0.3


def test_rate_decays_when_traffic_stops():
    rate = ArrivalRate()
    for i in range(100):
        rate = rate.observe(i * 0.1, window_s=5.0)
    before = rate.read(10.0, 5.0)
    assert rate.read(15.0, 5.0) < before * 0.4
    assert rate.read(60.0, 5.0) < 0.01


def test_reading_does_not_change_the_estimate():
    rate = ArrivalRate().observe(1.0, 10.0)
    assert rate.read(1.0, 10.0) == rate.read(1.0, 10.0) == rate.per_s


def test_target_is_the_minimum_when_idle():
    assert prewarm_target(0.0, create_s=0.5, headroom=1.5, minimum=2) == 2
    assert prewarm_target(0.0, create_s=0.5, headroom=1.5, minimum=0) == 0


def test_target_covers_the_arrivals_of_one_creation_time_but_for_rare_bursts():
    # 8 arrivals/s while a container takes 0.5 s to create: 4 arrive per creation, 6 with 1.5x headroom.
    target = prewarm_target(8.0, create_s=0.5, headroom=1.5, minimum=2, cold_start_ratio=0.01)
    assert reached(6.0, target) <= 0.01 < reached(6.0, target - 1)


def test_target_grows_with_the_arrival_rate_at_least_as_littles_law():
    targets = [prewarm_target(rate, create_s=0.5, headroom=1.5, minimum=2) for rate in (1, 2, 4, 8, 16, 32)]
    assert targets == sorted(targets)
    assert all(target >= rate * 0.5 * 1.5 for target, rate in zip(targets, (1, 2, 4, 8, 16, 32), strict=True))


def test_a_stricter_cold_start_ratio_keeps_more_containers():
    loose = prewarm_target(2.0, create_s=1.0, headroom=1.0, minimum=0, cold_start_ratio=0.1)
    strict = prewarm_target(2.0, create_s=1.0, headroom=1.0, minimum=0, cold_start_ratio=0.001)
    assert strict > loose >= 2


def test_target_stays_finite_for_huge_rates():
    assert 10_000 < prewarm_target(10_000.0, create_s=1.0, headroom=1.0, minimum=0) < 11_000


def test_target_grows_with_creation_time():
    assert prewarm_target(4.0, create_s=2.0, headroom=1.0, minimum=0) > prewarm_target(4.0, 0.5, 1.0, 0)


def test_a_trickle_still_keeps_containers_for_sizes_without_minimum():
    # 0.15 arrivals per creation time: one container would be empty for 14 % of them, two for 1 %.
    assert prewarm_target(0.2, create_s=0.5, headroom=1.5, minimum=0, cold_start_ratio=0.02) == 2
    assert prewarm_target(0.2, create_s=0.5, headroom=1.5, minimum=0, cold_start_ratio=0.2) == 1


def test_creations_cover_the_deficit_and_the_waiting():
    assert creations_to_start(target=4, waiting=2, idle=1, creating=1, free_slots=10, budget_left_mb=10_000, memory_mb=256) == 4


def test_creations_are_bounded_by_free_slots():
    assert creations_to_start(target=10, waiting=0, idle=0, creating=0, free_slots=3, budget_left_mb=10_000, memory_mb=256) == 3


def test_creations_are_bounded_by_the_memory_budget():
    assert creations_to_start(target=10, waiting=0, idle=0, creating=0, free_slots=10, budget_left_mb=600, memory_mb=256) == 2
    assert creations_to_start(target=10, waiting=0, idle=0, creating=0, free_slots=10, budget_left_mb=100, memory_mb=256) == 0


def test_no_creation_when_stock_covers_the_target():
    assert creations_to_start(target=2, waiting=0, idle=2, creating=1, free_slots=3, budget_left_mb=10_000, memory_mb=256) == 0


def test_surplus_is_destroyed_only_after_the_grace():
    assert surplus_to_destroy(target=2, idle=5, surplus_since=100.0, now=110.0, grace_s=30.0) == 0
    assert surplus_to_destroy(target=2, idle=5, surplus_since=100.0, now=131.0, grace_s=30.0) == 3
    assert surplus_to_destroy(target=5, idle=5, surplus_since=100.0, now=200.0, grace_s=30.0) == 0
    assert surplus_to_destroy(target=2, idle=5, surplus_since=None, now=200.0, grace_s=30.0) == 0


def test_smoothing_starts_from_the_first_sample():
    assert smoothed(None, 0.4) == 0.4
    assert 0.4 < smoothed(0.4, 1.4) < 1.4


def test_expected_wait_counts_creations_in_parallel_batches():
    assert expected_wait_s(1, create_s=2.0, parallel_creates=3) == 2.0
    assert expected_wait_s(3, create_s=2.0, parallel_creates=3) == 2.0
    assert expected_wait_s(4, create_s=2.0, parallel_creates=3) == 4.0
    assert expected_wait_s(7, create_s=2.0, parallel_creates=3) == 6.0


def test_no_wait_is_expected_before_any_creation_time_is_known():
    assert expected_wait_s(100, create_s=None, parallel_creates=3) == 0.0


def test_a_burst_moves_the_short_window_estimate_long_before_the_steady_one():
    steady, burst = ArrivalRate(), ArrivalRate()
    for i in range(100):  # 2 per second for 50 s, then 10 arrivals within 0.2 s
        steady, burst = steady.observe(i * 0.5, 10.0), burst.observe(i * 0.5, 1.0)
    for i in range(10):
        steady, burst = steady.observe(50 + i * 0.02, 10.0), burst.observe(50 + i * 0.02, 1.0)
    assert planning_rate(steady.read(50.2, 10.0), burst.read(50.2, 1.0)) == burst.read(50.2, 1.0) > 9
    assert steady.read(50.2, 10.0) < 3.5


def test_the_planned_rate_is_the_steady_one_once_a_burst_has_passed():
    assert planning_rate(steady_per_s=5.0, burst_per_s=0.5) == 5.0
    assert planning_rate(steady_per_s=5.0, burst_per_s=12.0) == 12.0


def test_all_slots_busy_is_erlang_c():
    assert erlang_c(0.5, 1) == 0.5  # one slot: busy with probability = utilisation
    assert abs(erlang_c(2.0, 4) - 0.1739) < 1e-4  # the textbook M/M/4 figure at half load
    assert erlang_c(3.9, 4) > erlang_c(3.0, 4) > erlang_c(1.0, 4)


def test_slots_rarely_all_busy_leave_the_target_to_the_poisson_rule():
    assert slot_queue_reached(0.5, slots=4, probability=0.01) == 0


def test_the_slot_queue_tail_falls_geometrically_past_the_slots():
    offered, slots = 3.2, 4
    n = slot_queue_reached(offered, slots, probability=0.01)
    busy, utilisation = erlang_c(offered, slots), offered / slots
    assert busy * utilisation ** (n - slots) <= 0.01 < busy * utilisation ** (n - 1 - slots)


def test_slots_that_cannot_keep_up_saturate_the_target():
    assert slot_queue_reached(4.0, slots=4, probability=0.01) == SATURATED
    assert prewarm_target(40.0, create_s=0.1, headroom=1.5, minimum=2, parallel_creates=4) == SATURATED


def test_near_the_slots_capacity_the_queue_rule_keeps_more_than_poisson():
    # 33 arrivals/s, 0.11 s per create, 4 at a time: 3.6 of the 4 slots busy on average.
    poisson = prewarm_target(33.0, create_s=0.11, headroom=1.5, minimum=2)
    queued = prewarm_target(33.0, create_s=0.11, headroom=1.5, minimum=2, parallel_creates=4)
    assert queued > 2 * poisson
    more_slots = prewarm_target(33.0, create_s=0.11, headroom=1.5, minimum=2, parallel_creates=8)
    assert poisson <= more_slots < queued


def test_at_low_load_the_slots_change_nothing():
    assert prewarm_target(8.0, create_s=0.06, headroom=1.5, minimum=2, parallel_creates=4) == prewarm_target(
        8.0, create_s=0.06, headroom=1.5, minimum=2
    )


def test_at_the_staircases_0_8_step_the_slots_can_create_a_third_more_than_arrive():
    # Measured (2 cores, egress internet): 26.9 arrivals/s at 0.8 of the limit, 0.163 s per create under
    # that load. 4 fixed slots create at most 4 / 0.163 = 24.5/s: fewer than arrive, so the stock drains.
    slots = creation_slots(26.9, create_s=0.163, configured=4)
    assert slots / 0.163 >= 26.9 / SLOT_UTILISATION
    assert prewarm_target(26.9, 0.163, headroom=2.0, minimum=2, cold_start_ratio=0.002,
                          parallel_creates=slots) < 32  # within the 8 GiB budget's 32 sandboxes of 256 MB


def test_the_slots_stay_the_configured_count_while_it_keeps_up():
    assert creation_slots(0.0, create_s=0.15, configured=4) == 4
    assert creation_slots(13.0, create_s=0.15, configured=4) == 4


def test_an_overload_raises_the_slots_to_twice_the_configured_count_at_most():
    assert creation_slots(50.0, create_s=0.4, configured=4) == 8
    assert creation_slots(50.0, create_s=0.4, configured=4, most=5) == 5
    assert creation_slots(50.0, create_s=0.4, configured=4, most=2) == 4  # never below the configured count
