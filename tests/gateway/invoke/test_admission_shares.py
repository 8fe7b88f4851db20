"""A namespace's limits across nodes: each node admits its share, ceil(limit / live nodes)."""

import pytest

from gateway.invoke.admission import MinuteCounter, NodeShare, Throttle
from gateway.wire.errors import ApiError


def admitted_per_minute(throttle: Throttle, per_minute: int, attempts: int) -> int:
    admitted = 0
    for _ in range(attempts):
        try:
            throttle.admit_invocation("guest", per_minute=per_minute, concurrent=1000)
        except ApiError:
            continue
        throttle.release_invocation("guest")
        admitted += 1
    return admitted


@pytest.mark.parametrize(("limit", "nodes"), [(12, 3), (10, 3), (1, 3), (60, 1), (5, 7)])
def test_nodes_together_admit_the_limit_and_at_most_one_less_than_their_number_more(limit: int, nodes: int):
    minute = 60_000 * 100
    throttles = [Throttle(MinuteCounter(lambda: minute), MinuteCounter(lambda: minute)) for _ in range(nodes)]
    for throttle in throttles:
        throttle.share.set_live_nodes(nodes)
    total = sum(admitted_per_minute(throttle, limit, attempts=limit + 5) for throttle in throttles)
    assert limit <= total <= limit + nodes - 1


def test_a_limit_of_zero_admits_nothing_on_any_node():
    share = NodeShare()
    share.set_live_nodes(3)
    assert share.of(0) == 0


def test_the_concurrency_limit_is_shared_too():
    throttle = Throttle(MinuteCounter(lambda: 0), MinuteCounter(lambda: 0))
    throttle.share.set_live_nodes(2)
    throttle.admit_invocation("guest", per_minute=100, concurrent=4)
    throttle.admit_invocation("guest", per_minute=100, concurrent=4)
    with pytest.raises(ApiError, match=r"allowed: 2\)"):
        throttle.admit_invocation("guest", per_minute=100, concurrent=4)


def test_no_live_node_count_is_read_as_one():
    share = NodeShare()
    share.set_live_nodes(0)
    assert share.of(10) == 10


def test_may_fire_says_whether_this_nodes_share_has_room_without_counting():
    throttle = Throttle(MinuteCounter(lambda: 0), MinuteCounter(lambda: 0))
    throttle.share.set_live_nodes(3)
    for _ in range(5):
        assert throttle.may_fire("guest", per_minute=6)  # asking counts nothing
    throttle.admit_fire("guest", per_minute=6)
    throttle.admit_fire("guest", per_minute=6)
    assert not throttle.may_fire("guest", per_minute=6)  # its share, ceil(6 / 3), is spent
