"""A scripted fake model server for rehearsing agent CLIs offline and deterministically.

    from agent_dispatch.testing.fakellm import FakeModelServer
    with FakeModelServer(Path("scenario.json"), log=Path("requests.jsonl")) as server:
        ...  # point the CLI at server.url

See docs/fake-model-server.md for the scenario format.
"""

from .scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from .server import FakeModelServer

__all__ = ["FakeModelServer", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]
