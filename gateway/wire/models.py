"""Wire shapes of the OpenWhisk REST API, as msgspec Structs: decoded once, validated on decode."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

# Unknown fields are ignored on decode (clients send `namespace`, `name` and more in PUT bodies).


class KeyValue(Struct, omit_defaults=True):
    key: str
    value: Any = None
    init: bool = False
    encryption: str | None = None


class Exec(Struct, omit_defaults=True):
    """A stored action's `exec`: a runtime (`code`), a `sequence` (`components`) or a `blackbox` (`image`)."""

    kind: str
    code: str | UnsetType = UNSET
    binary: bool | UnsetType = UNSET
    main: str | UnsetType = UNSET
    components: list[str] | UnsetType = UNSET
    image: str | UnsetType = UNSET


class ExecPut(Struct, omit_defaults=True):
    kind: str | UnsetType = UNSET
    code: Any = UNSET
    binary: bool | UnsetType = UNSET
    main: str | UnsetType = UNSET
    components: list[str] | UnsetType = UNSET
    image: str | UnsetType = UNSET


class ActionLimits(Struct):
    timeout: int = 60000  # ms
    memory: int = 256  # MB
    logs: int = 10  # MB
    concurrency: int = 1


class ActionLimitsPut(Struct, omit_defaults=True):
    timeout: Any = UNSET
    memory: Any = UNSET
    logs: Any = UNSET
    concurrency: Any = UNSET
    instances: Any = UNSET


class ActionPut(Struct, omit_defaults=True):
    exec: ExecPut | None | UnsetType = UNSET
    parameters: list[KeyValue] | None | UnsetType = UNSET
    annotations: list[KeyValue] | None | UnsetType = UNSET
    delAnnotations: list[str] | None | UnsetType = UNSET
    limits: ActionLimitsPut | None | UnsetType = UNSET
    version: str | None | UnsetType = UNSET
    publish: bool | None | UnsetType = UNSET


class Action(Struct):
    """A stored action document. `namespace` is its path: `ns` or `ns/package`."""

    namespace: str
    name: str
    version: str
    publish: bool
    exec: Exec
    parameters: list[KeyValue]
    annotations: list[KeyValue]
    limits: ActionLimits
    updated: int

    @property
    def fully_qualified_name(self) -> str:
        """`ns/pkg/name` without a leading slash, as the `path` annotation shows it."""
        return f"{self.namespace}/{self.name}"

    def annotation(self, key: str, default: Any = None) -> Any:
        for item in self.annotations:
            if item.key == key:
                return item.value
        return default

    def annotated(self, key: str, default: bool = False) -> bool:
        """Whether annotation `key` is set to anything but `false`, `null` or `"false"`; `default` when absent."""
        value = self.annotation(key, default)
        return value is not False and value is not None and value != "false"


class ExecSummary(Struct):
    binary: bool


class ActionSummary(Struct):
    namespace: str
    name: str
    version: str
    publish: bool
    annotations: list[KeyValue]
    limits: ActionLimits
    exec: ExecSummary
    updated: int


class ActivationResponse(Struct, omit_defaults=True):
    """The API form of an activation's response: `statusCode` is replaced by `status` and `success`."""

    status: str
    success: bool
    result: Any = None
    size: int | None = None


class ActivationRecord(Struct):
    """A full activation record. `end` and `duration` are unset on trigger records, `cause` on
    top-level activations; everything else is always present."""

    namespace: str
    name: str
    version: str
    subject: str
    activationId: str
    start: int
    response: ActivationResponse
    publish: bool = False
    end: int | UnsetType = UNSET
    duration: int | UnsetType = UNSET
    logs: list[str] = msgspec.field(default_factory=list)
    annotations: list[KeyValue] = msgspec.field(default_factory=list)
    cause: str | UnsetType = UNSET


class ActivationSummary(Struct, omit_defaults=True):
    namespace: str
    name: str
    version: str
    publish: bool
    annotations: list[KeyValue]
    activationId: str
    start: int
    end: int | None = None
    duration: int | None = None
    statusCode: int | None = None
    cause: str | None = None


class ActivationId(Struct):
    activationId: str


class ErrorBody(Struct):
    error: str
    code: str


class NamespaceLimits(Struct, omit_defaults=True):
    """Per-namespace throttle overrides as stored on a subject; unset fields take the system defaults."""

    invocationsPerMinute: int | UnsetType = UNSET
    concurrentInvocations: int | UnsetType = UNSET
    firesPerMinute: int | UnsetType = UNSET
    egress: str | UnsetType = UNSET  # none | api | internet (checked where it is set)


class Identity(Struct, frozen=True):
    """Who a request acts as: the namespace a credential resolves to."""

    subject: str
    namespace: str
    uuid: str
    authkey: str  # `uuid:key`, passed to actions that ask for `provide-api-key`
    limits: NamespaceLimits


encoder = msgspec.json.Encoder()
action_decoder = msgspec.json.Decoder(Action)
action_put_decoder = msgspec.json.Decoder(ActionPut)
record_decoder = msgspec.json.Decoder(ActivationRecord)

STATUS_CODES = {"success": 0, "application error": 1, "action developer error": 2, "whisk internal error": 3}


class ActivationLogs(Struct):
    logs: list[str]


class EffectiveLimits(Struct):
    """`GET /namespaces/{ns}/limits`: a namespace's limits with the system defaults filled in."""

    invocationsPerMinute: int
    concurrentInvocations: int
    firesPerMinute: int
    minActionMemory: int  # MB
    maxActionMemory: int
    minActionLogs: int  # MB
    maxActionLogs: int
    minActionTimeout: int  # ms
    maxActionTimeout: int
    minActionConcurrency: int
    maxActionConcurrency: int
    maxParameterSize: str  # "1048576 B"
    maxActionInstances: int
    egress: str  # none | api | internet: the namespace's actions' outbound network


class Runtime(Struct, frozen=True):
    """One kind of the runtime manifest, as `GET /` shows it."""

    kind: str
    image: str
    default: bool = False
    deprecated: bool = False
    attached: bool = False
    requireMain: bool = False
    version: str = ""  # Whisklet's addition: the kind's exact Node.js version


class SystemLimits(Struct):
    """The `limits` of `GET /`: durations in ms, sizes in bytes."""

    actions_per_minute: int
    triggers_per_minute: int
    concurrent_actions: int
    sequence_length: int
    min_action_duration: int
    max_action_duration: int
    default_action_duration: int
    min_action_memory: int
    max_action_memory: int
    default_action_memory: int
    min_action_logs: int
    max_action_logs: int
    default_action_logs: int


class Support(Struct):
    github: str
    slack: str


class ControllerInfo(Struct):
    """`GET /`."""

    description: str
    support: Support
    api_paths: list[str]
    limits: SystemLimits
    runtimes: dict[str, list[Runtime]]


class ApiInfo(Struct):
    """`GET /api/v1`."""

    description: str
    api_version: str
    api_version_path: str
    build: str
    buildno: str
    swagger_paths: dict[str, str]
    sandbox_driver: str  # Whisklet's own: the sandbox driver in use, "sandbox" or "docker" ("auto" before start)


# Packages, triggers and rules (openwhisk-api.md §5.3-5.4)


class EntityRef(Struct):
    """`{path, name}`: an entity by its path (`ns` or `ns/pkg`) and simple name."""

    path: str
    name: str

    @property
    def fully_qualified_name(self) -> str:
        return f"{self.path}/{self.name}"


class Binding(Struct, omit_defaults=True):
    """What a package binding is bound to. Empty (encoded `{}`) on a package that is not a binding."""

    namespace: str = ""
    name: str = ""

    def __bool__(self) -> bool:
        return bool(self.name)


class BindingPut(Struct, omit_defaults=True):
    namespace: str | UnsetType = UNSET
    name: str | UnsetType = UNSET


class Package(Struct):
    """A stored package or package binding. `namespace` is always a bare namespace (packages do not nest)."""

    namespace: str
    name: str
    version: str
    publish: bool
    binding: Binding
    parameters: list[KeyValue]
    annotations: list[KeyValue]
    updated: int


class PackagePut(Struct, omit_defaults=True):
    binding: BindingPut | None | UnsetType = UNSET
    parameters: list[KeyValue] | None | UnsetType = UNSET
    annotations: list[KeyValue] | None | UnsetType = UNSET
    version: str | None | UnsetType = UNSET
    publish: bool | None | UnsetType = UNSET


class ActionBrief(Struct):
    """An action as a package's GET lists it."""

    name: str
    version: str
    annotations: list[KeyValue]


class PackageDetail(Struct):
    """`GET /packages/{name}`: the package with its actions and feeds."""

    namespace: str
    name: str
    version: str
    publish: bool
    binding: Binding
    parameters: list[KeyValue]
    annotations: list[KeyValue]
    actions: list[ActionBrief]
    feeds: list[ActionBrief]
    updated: int


class PackageSummary(Struct):
    """The packages list view: `binding` is `false` or `{namespace, name}`."""

    namespace: str
    name: str
    version: str
    publish: bool
    annotations: list[KeyValue]
    binding: Binding | bool
    updated: int


class ReducedRule(Struct):
    """A rule as its trigger records it: the action it runs and whether it is active."""

    action: EntityRef
    status: str


class Trigger(Struct):
    """A stored trigger. `rules` (keyed `ns/rule`) appears once a rule has been linked."""

    namespace: str
    name: str
    version: str
    publish: bool
    parameters: list[KeyValue]
    annotations: list[KeyValue]
    updated: int
    limits: dict[str, Any] = msgspec.field(default_factory=dict)
    rules: dict[str, ReducedRule] | UnsetType = UNSET


class TriggerPut(Struct, omit_defaults=True):
    parameters: list[KeyValue] | None | UnsetType = UNSET
    annotations: list[KeyValue] | None | UnsetType = UNSET
    limits: Any = UNSET
    version: str | None | UnsetType = UNSET
    publish: bool | None | UnsetType = UNSET


class TriggerSummary(Struct):
    namespace: str
    name: str
    version: str
    publish: bool
    annotations: list[KeyValue]
    updated: int


class Rule(Struct):
    """A stored rule; its status lives in its trigger."""

    namespace: str
    name: str
    version: str
    publish: bool
    annotations: list[KeyValue]
    trigger: EntityRef
    action: EntityRef
    updated: int


class RuleWithStatus(Struct):
    """A rule as GET, PUT and DELETE return it."""

    namespace: str
    name: str
    version: str
    publish: bool
    annotations: list[KeyValue]
    status: str
    trigger: EntityRef
    action: EntityRef
    updated: int


class RulePut(Struct, omit_defaults=True):
    """`trigger`/`action` are `/ns[/pkg]/name` strings or `{path, name}` objects."""

    trigger: Any = UNSET
    action: Any = UNSET
    annotations: list[KeyValue] | None | UnsetType = UNSET
    version: str | None | UnsetType = UNSET
    publish: bool | None | UnsetType = UNSET


class RuleStatusPut(Struct):
    status: Any = None


package_decoder = msgspec.json.Decoder(Package)
package_put_decoder = msgspec.json.Decoder(PackagePut)
trigger_decoder = msgspec.json.Decoder(Trigger)
trigger_put_decoder = msgspec.json.Decoder(TriggerPut)
rule_decoder = msgspec.json.Decoder(Rule)
rule_put_decoder = msgspec.json.Decoder(RulePut)
rule_status_decoder = msgspec.json.Decoder(RuleStatusPut)


class RuleActivated(Struct):
    """A trigger record's log line for a rule whose action was started."""

    statusCode: int
    success: bool
    activationId: str
    rule: str
    action: str


class RuleFailed(Struct):
    """A trigger record's log line for a rule whose action could not be started."""

    statusCode: int
    success: bool
    error: str
    rule: str
    action: str
