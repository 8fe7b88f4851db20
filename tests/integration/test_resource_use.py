"""What an activation's sandbox used, on its record: `cpuTime` (CPU ms since the sandbox became ready)
and `maxMemory` (the sandbox's peak, in MB), read by the gateway from the sandbox's cgroups.

Run with the driver `WHISKLET_POOL_DRIVER` names; the Docker driver reads them only where the engine
uses cgroupfs v1 (this machine), so both drivers are expected to annotate here.
"""

from tests.integration.actions import (
    activation,
    annotations,
    invoke,
    put_action,
    unique,
)

HELLO = "function main() { return {msg: 'hello world'}; }"
BURN_CPU = """
function main() {
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += Math.sqrt(x + i);  // a fixed amount of work: ~0.2 s of CPU here, whatever the load
  return {x};
}"""
HOLD_100_MB = "function main() { const b = Buffer.alloc(100 * 1024 * 1024, 1); return {bytes: b.length}; }"


def used(wsk, code: str, memory_mb: int = 256) -> dict:
    name = unique("use")
    put_action(wsk, name, code, limits={"memory": memory_mb})
    response = invoke(wsk, name)
    assert response.status_code == 200, response.text
    return annotations(activation(wsk, response.json()["activationId"]))


def test_a_cpu_burning_action_gets_a_larger_cpu_time_than_hello_world(wsk):
    hello, burner = used(wsk, HELLO), used(wsk, BURN_CPU)
    assert isinstance(hello["cpuTime"], int) and isinstance(burner["cpuTime"], int)
    assert burner["cpuTime"] > 5 * max(hello["cpuTime"], 1)


def test_an_action_holding_100_mb_has_a_max_memory_of_at_least_100(wsk):
    hello, holder = used(wsk, HELLO), used(wsk, HOLD_100_MB)
    assert holder["maxMemory"] >= 100
    assert hello["maxMemory"] < holder["maxMemory"] <= 256  # within the action's memory limit
