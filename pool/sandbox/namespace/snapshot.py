"""The runner's Node.js startup snapshots: one blob per heap-size flag, inside the runtime tree.

A sandbox started from a blob (`node --snapshot-blob`) skips loading the runner's built-in modules;
`snapshot.js` is the entry that loads the runner itself at start. V8 accepts a blob only with the flags
it was built with, so there is one per `--max-old-space-size`, built on first use by the host's `node`
(the binary the tree holds) and kept in the tree, whose digest changes with node, the runner or the entry.
A blob that cannot be built leaves the sandbox to a plain start.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger("whisklet.pool")

ENTRY_PATH = Path(__file__).with_name("snapshot.js")
ENTRY_IN_TREE = "/opt/whisklet/snapshot.js"
BLOBS_IN_TREE = "/opt/whisklet/snapshots"
_BUILD_TIMEOUT_S = 60.0


def blob_in_tree(heap_mb: int) -> str:
    return f"{BLOBS_IN_TREE}/heap-{heap_mb}.blob"


def ensure_blob(tree: Path, node_flags: list[str], heap_mb: int) -> bool:
    """Build the blob for `heap_mb` in `tree` unless it is there; False when it cannot be built.

    Blocking (runs node for ~0.5 s, once per heap size): call it from a thread. Concurrent calls may
    both build; each writes its own file and renames it into place.
    """
    blob = tree / blob_in_tree(heap_mb).lstrip("/")
    if blob.exists():
        return True
    building = blob.with_name(f".{blob.name}.{os.getpid()}.{os.urandom(4).hex()}")
    node = tree / "usr/local/bin/node"
    argv = [str(node), *node_flags, "--snapshot-blob", str(building), "--build-snapshot",
            str(tree / ENTRY_IN_TREE.lstrip("/"))]
    try:
        blob.parent.mkdir(mode=0o755, exist_ok=True)
        subprocess.run(argv, check=True, capture_output=True, timeout=_BUILD_TIMEOUT_S, env={"PATH": "/usr/bin:/bin"},
                       cwd=tree)
        building.chmod(0o644)
        building.rename(blob)
    except (OSError, subprocess.SubprocessError) as exc:
        building.unlink(missing_ok=True)
        detail = exc.stderr.decode(errors="replace")[-300:] if isinstance(exc, subprocess.CalledProcessError) else exc
        log.warning("cannot build the runner's startup snapshot for a %d MB heap (%s); sandboxes start plainly",
                    heap_mb, detail)
        return False
    return True
