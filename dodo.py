"""doit entry point of this workspace: pocflow turns every PoC step into a task graph."""

from pocflow import doit_config, generate_tasks

DOIT_CONFIG = doit_config(__file__)


def task_pocflow():  # type: ignore[no-untyped-def]
    """pocflow's tasks: step:<id>, its phases, and poc-complete."""
    yield from generate_tasks(__file__)
