from pool.policy import ArrivalRate, creations_to_start, prewarm_target, smoothed, surplus_to_destroy


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


def test_target_follows_littles_law_with_headroom():
    # 8 arrivals/s while a container takes 0.5 s to create: 4 in flight, 6 with 1.5x headroom.
    assert prewarm_target(8.0, create_s=0.5, headroom=1.5, minimum=2) == 6
    assert prewarm_target(16.0, create_s=0.5, headroom=1.5, minimum=2) == 12


def test_target_grows_with_creation_time():
    assert prewarm_target(4.0, create_s=2.0, headroom=1.0, minimum=0) > prewarm_target(4.0, 0.5, 1.0, 0)


def test_a_trickle_still_keeps_one_container_for_sizes_without_minimum():
    assert prewarm_target(0.2, create_s=0.5, headroom=1.5, minimum=0) == 1


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
