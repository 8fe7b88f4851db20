"""Trigger and rule semantics: documents from PUT bodies, and the rule links a trigger keeps. Pure functions."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from gateway.config import LimitsConfig
from gateway.entities.actions import check_key_values, given_or, next_version
from gateway.entities.resolve import QualifiedName, merge_key_values, parse_qualified_name
from gateway.wire.errors import FEED_NAME_INVALID, RULE_NEEDS_TRIGGER_AND_ACTION, ApiError
from gateway.wire.models import (
    EntityRef,
    ReducedRule,
    Rule,
    RulePut,
    RuleWithStatus,
    Trigger,
    TriggerPut,
    TriggerSummary,
)

ACTIVE = "active"
INACTIVE = "inactive"


def create_trigger(put: TriggerPut, namespace: str, name: str, *, bounds: LimitsConfig, now_ms: int) -> Trigger:
    """The trigger a PUT creates; a `feed` annotation must name an entity (`/ns/pkg/feed`)."""
    annotations = merge_key_values(put.annotations or ())
    for item in annotations:
        if item.key == "feed":
            _check_feed(item.value, namespace)
    trigger = Trigger(
        namespace=namespace,
        name=name,
        version=next_version(put.version, None),
        publish=bool(put.publish),
        parameters=merge_key_values(put.parameters or ()),
        annotations=annotations,
        limits={},
        updated=now_ms,
    )
    check_key_values(trigger.parameters, trigger.annotations, bounds)
    return trigger


def update_trigger(old: Trigger, put: TriggerPut, *, bounds: LimitsConfig, now_ms: int) -> Trigger:
    """`old` with the given fields replaced (annotations too, unlike actions'); its rules are kept."""
    trigger = msgspec.structs.replace(
        old,
        version=next_version(put.version, old.version),
        publish=given_or(put.publish, old.publish),
        parameters=merge_key_values(given_or(put.parameters, old.parameters)),
        annotations=merge_key_values(given_or(put.annotations, old.annotations)),
        updated=now_ms,
    )
    check_key_values(trigger.parameters, trigger.annotations, bounds)
    return trigger


def summarize_trigger(trigger: Trigger) -> TriggerSummary:
    return TriggerSummary(
        namespace=trigger.namespace,
        name=trigger.name,
        version=trigger.version,
        publish=trigger.publish,
        annotations=trigger.annotations,
        updated=trigger.updated,
    )


def _check_feed(value: Any, namespace: str) -> None:
    if not isinstance(value, str):
        raise ApiError(400, FEED_NAME_INVALID)
    try:
        parse_qualified_name(value, namespace)
    except ApiError:
        raise ApiError(400, FEED_NAME_INVALID) from None


# rules


def rule_key(namespace: str, name: str) -> str:
    """How a trigger's `rules` map names a rule: `ns/rule`."""
    return f"{namespace}/{name}"


def active_rules(trigger: Trigger) -> dict[str, ReducedRule]:
    rules = trigger.rules if trigger.rules is not UNSET else {}
    return {key: rule for key, rule in rules.items() if rule.status == ACTIVE}


def rule_status(trigger: Trigger | None, key: str) -> str:
    """A rule's status as its trigger records it; `inactive` when the trigger or the link is gone."""
    if trigger is None or trigger.rules is UNSET or key not in trigger.rules:
        return INACTIVE
    return trigger.rules[key].status


def linked(trigger: Trigger, key: str, action: EntityRef, status: str) -> Trigger:
    """`trigger` with the rule `key` linked to `action` in `status`."""
    rules = dict(trigger.rules) if trigger.rules is not UNSET else {}
    rules[key] = ReducedRule(action=action, status=status)
    return msgspec.structs.replace(trigger, rules=rules)


def unlinked(trigger: Trigger, key: str) -> Trigger:
    rules = dict(trigger.rules) if trigger.rules is not UNSET else {}
    rules.pop(key, None)
    return msgspec.structs.replace(trigger, rules=rules)


def rule_reference(value: Any, caller_namespace: str) -> QualifiedName:
    """A rule's `trigger` or `action`: `/ns[/pkg]/name` or `{path, name}`; 400 when neither."""
    try:
        if isinstance(value, str) and value.strip():
            return parse_qualified_name(value, caller_namespace)
        if isinstance(value, dict) and isinstance(value.get("path"), str) and isinstance(value.get("name"), str):
            return parse_qualified_name(f"/{value['path']}/{value['name']}", caller_namespace)
    except ApiError:
        pass
    raise ApiError(400, RULE_NEEDS_TRIGGER_AND_ACTION)


def reference(name: QualifiedName) -> EntityRef:
    return EntityRef(path=name.path, name=name.name)


def create_rule(
    put: RulePut, namespace: str, name: str, trigger: QualifiedName, action: QualifiedName, *, now_ms: int
) -> Rule:
    return Rule(
        namespace=namespace,
        name=name,
        version=next_version(put.version, None),
        publish=bool(put.publish),
        annotations=merge_key_values(put.annotations or ()),
        trigger=reference(trigger),
        action=reference(action),
        updated=now_ms,
    )


def update_rule(old: Rule, put: RulePut, trigger: QualifiedName, action: QualifiedName, *, now_ms: int) -> Rule:
    return msgspec.structs.replace(
        old,
        version=next_version(put.version, old.version),
        publish=given_or(put.publish, old.publish),
        annotations=merge_key_values(given_or(put.annotations, old.annotations)),
        trigger=reference(trigger),
        action=reference(action),
        updated=now_ms,
    )


def with_status(rule: Rule, status: str) -> RuleWithStatus:
    return RuleWithStatus(
        namespace=rule.namespace,
        name=rule.name,
        version=rule.version,
        publish=rule.publish,
        annotations=rule.annotations,
        status=status,
        trigger=rule.trigger,
        action=rule.action,
        updated=rule.updated,
    )
