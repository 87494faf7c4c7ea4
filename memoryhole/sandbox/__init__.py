"""The simulated platform: a local m.weibo.cn look-alike that knows the ground truth.

from memoryhole.sandbox import SandboxServer, ManualClock, load_scenario
with SandboxServer(load_scenario(None), clock=ManualClock(start)) as server:
    ...  # crawl server.url; read server.url + "/_sandbox/truth"
"""

from .clock import ManualClock, SystemClock
from .scenario import DEFAULT_SCENARIO_PATH, Scenario, ScenarioError, load_scenario
from .server import SandboxServer
from .world import World

__all__ = [
    "DEFAULT_SCENARIO_PATH",
    "ManualClock",
    "SandboxServer",
    "Scenario",
    "ScenarioError",
    "SystemClock",
    "World",
    "load_scenario",
]
