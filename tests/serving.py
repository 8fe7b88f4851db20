"""Where the test server used to live: it is `bench/serving.py` now, shared by the tests and the benchmarks.

Kept only so that branches written before the move still import; new code imports `bench.serving`.
"""

from bench.serving import (  # noqa: F401
    REPO,
    WHISKLET,
    ServedWhisklet,
    docker_available,
    free_port,
    sandbox_host_dirs,
    sandbox_names,
    wait_until,
)
