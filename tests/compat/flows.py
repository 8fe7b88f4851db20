"""Running a Node.js flow script that drives a live Whisklet with the real `openwhisk` npm client."""

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_flow(whisklet, script: str) -> dict:
    """Run `script` (beside this file) against `whisklet`; return the JSON object it prints last."""
    done = subprocess.run(
        ["node", str(HERE / script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,
        env={"PATH": "/usr/bin:/bin", "APIHOST": whisklet.url, "AUTH": ":".join(whisklet.auth)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
