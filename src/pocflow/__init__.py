"""pocflow: execute a proof-of-concept one verified step at a time, as a doit task graph."""

from __future__ import annotations

from pocflow.errors import (
    DiscoveryError,
    DocumentError,
    GraphError,
    ManifestError,
    PlanError,
    PocflowError,
    SettingsError,
)
from pocflow.metrics import METRICS_ENV
from pocflow.plan import Plan, PlanStep, parse_plan
from pocflow.status import StepStatus, compute_status
from pocflow.steps import parse_step_filename, parse_step_id, step_sort_key
from pocflow.tasks import doit_config, generate_tasks
from pocflow.workspace import Step, Workspace, load_workspace

__version__ = "0.1.0"

__all__ = [
    "METRICS_ENV",
    "DiscoveryError",
    "DocumentError",
    "GraphError",
    "ManifestError",
    "Plan",
    "PlanError",
    "PlanStep",
    "PocflowError",
    "SettingsError",
    "Step",
    "StepStatus",
    "Workspace",
    "__version__",
    "compute_status",
    "doit_config",
    "generate_tasks",
    "load_workspace",
    "parse_plan",
    "parse_step_filename",
    "parse_step_id",
    "step_sort_key",
]
