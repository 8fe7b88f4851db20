"""What the gateway reports as it works (activations ended, requests throttled, triggers fired), for metrics.

The defaults do nothing; `gateway.edge.metrics.Metrics` counts them. Every hook is a synchronous call on the
event loop and must be cheap: it runs on the activation's path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.invoke.records import Ended


class ThrottleReason(StrEnum):
    """Why a request was answered 429: which namespace limit it exceeded."""

    INVOCATIONS_PER_MINUTE = "invocations_per_minute"
    CONCURRENT_INVOCATIONS = "concurrent_invocations"
    FIRES_PER_MINUTE = "fires_per_minute"


class GatewayObserver:
    """Hooks the controller and the throttle call; the defaults do nothing."""

    def activation_ended(self, ended: Ended) -> None:
        """An activation ended and its record was built (it ran, failed, or never found a container)."""

    def throttled(self, reason: ThrottleReason) -> None:
        """A request was refused with 429 for `reason`."""

    def trigger_fired(self, active_rules: int) -> None:
        """A trigger was fired (not throttled); `active_rules` of its rules were activated."""


class ObserverGroup(GatewayObserver):
    """Several observers as one: each hook is passed to every member, in order."""

    def __init__(self, *members: GatewayObserver) -> None:
        self.members = members

    def activation_ended(self, ended: Ended) -> None:
        for member in self.members:
            member.activation_ended(ended)

    def throttled(self, reason: ThrottleReason) -> None:
        for member in self.members:
            member.throttled(reason)

    def trigger_fired(self, active_rules: int) -> None:
        for member in self.members:
            member.trigger_fired(active_rules)
