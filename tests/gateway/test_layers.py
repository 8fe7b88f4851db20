"""The gateway's layers point one way: no module imports from a layer above its own (DESIGN.md §2)."""

from __future__ import annotations

import ast
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"

# Lowest first; a module may import from its own layer and the layers below it. `events` and `web`
# share a rank: both call down into `invoke`, neither knows the other; `logfwd` (log forwarding, an
# observer of ended activations) shares it too. `routes` (API gateway routes) calls down into `web` and `invoke`.
# `console` (the web console's files) sits beside `api` and imports neither.
LAYERS = {
    "store": 0,
    "wire": 1,
    "entities": 2,
    "invoke": 3,
    "events": 4,
    "web": 4,
    "logfwd": 4,
    "routes": 5,
    "api": 6,
    "console": 6,
    "edge": 7,
    "top": 8,
}
# The wiring at the top: the app, the services' lifespan, the server and the command, one layer.
TOP = {"app", "service", "server", "cli"}
# Leaves every layer may use; they import nothing else of the gateway.
FOUNDATION = {"config", "datadir", "clock"}


def layer_of(module: str) -> str | None:
    """`gateway.invoke.controller` -> `invoke`, `gateway.app` -> `top`; None for the package itself and
    for non-gateway modules."""
    parts = module.split(".")
    if parts[0] != "gateway" or len(parts) < 2:
        return None
    return "top" if parts[1] in TOP else parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(GATEWAY.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[str]:
    """Every gateway module `path` imports, at any depth (function bodies and `TYPE_CHECKING` blocks too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            if node.module == "gateway":
                found.extend(f"gateway.{alias.name}" for alias in node.names)
            else:
                found.append(node.module)
    return [name for name in found if name == "gateway" or name.startswith("gateway.")]


def upward_imports() -> list[str]:
    problems: list[str] = []
    for path in sorted(GATEWAY.rglob("*.py")):
        module = module_name(path)
        layer = layer_of(module)
        if layer is None:  # gateway/__init__.py
            continue
        if layer not in LAYERS and layer not in FOUNDATION:
            problems.append(f"{path.relative_to(GATEWAY.parent)} is in no layer")
            continue
        for imported in imported_modules(path):
            target = layer_of(imported)
            if target is None or target == layer:
                continue
            if layer in FOUNDATION:
                problems.append(f"{module} (a foundation module) imports {imported}")
            elif target in FOUNDATION:
                continue
            elif target not in LAYERS:
                problems.append(f"{module} imports {imported}, which is in no layer")
            elif LAYERS[target] >= LAYERS[layer]:
                problems.append(f"{module} ({layer}) imports {imported} ({target}), not below it")
    return problems


def test_every_gateway_module_imports_only_from_its_own_layer_and_those_below():
    assert upward_imports() == []


def test_the_check_sees_imports_inside_type_checking_blocks(tmp_path: Path):
    source = tmp_path / "module.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from gateway.events.firing import fire_trigger\n"
        "def later():\n"
        "    from gateway import app\n"
    )
    assert imported_modules(source) == ["gateway.events.firing", "gateway.app"]
