"""Namespaces and their credentials: creation with a generated key, the `.wskprops` file, the egress mode."""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass
from pathlib import Path

from msgspec import UNSET

from gateway.config import egress_mode
from gateway.datadir import owner_only_file
from gateway.entities.names import namespace_name
from gateway.store import Store, Subject
from gateway.wire.models import NamespaceLimits
from pool import Egress

GUEST = "guest"
KEY_LENGTH = 64
_KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Credential:
    namespace: str
    uuid: str
    key: str

    @property
    def auth(self) -> str:
        """`uuid:key`, as wsk's AUTH and Basic auth carry it."""
        return f"{self.uuid}:{self.key}"


class NamespaceExists(Exception):
    pass


async def create_namespace(store: Store, namespace: str, limits: bytes = b"{}") -> Credential:
    """Create `namespace` with a fresh uuid and 64-character key; only the key's hash is stored."""
    namespace_name(namespace)
    if await store.get_subject(namespace) is not None:
        raise NamespaceExists(f"namespace '{namespace}' already exists")
    credential = Credential(namespace, str(uuid.uuid4()), "".join(secrets.choice(_KEY_ALPHABET) for _ in range(KEY_LENGTH)))
    await store.create_subject(namespace, credential.uuid, credential.key, limits)
    return credential


async def ensure_guest(store: Store) -> Credential | None:
    """Create the `guest` namespace on first start; return its credential only when it was created."""
    subject: Subject | None = await store.get_subject(GUEST)
    if subject is not None:
        return None
    return await create_namespace(store, GUEST)


def write_wskprops(path: Path, api_host: str, credential: Credential) -> None:
    """Write `APIHOST` and `AUTH` in `.wskprops` format, readable by the owner only."""
    owner_only_file(path)
    path.write_text(f"APIHOST={api_host}\nAUTH={credential.auth}\nNAMESPACE={credential.namespace}\n")


def namespace_egress(limits: NamespaceLimits, default: str) -> Egress:
    """The outbound network of a namespace's actions: its own `egress` override, else the system's
    `limits.egress` (both checked when set: `whisklet namespace limits --egress`, the configuration)."""
    return egress_mode(default if limits.egress is UNSET else limits.egress, "egress")
