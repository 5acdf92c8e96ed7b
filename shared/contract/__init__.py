"""The module contract, sidecar side: prepare `in/`, validate and commit `out/`.

Written once here; the Quart app in `sidecar/` and every executor's sidecar use it.
"""

from shared.contract.commit import CommitResult, commit_outputs
from shared.contract.config import SidecarConfig
from shared.contract.errors import ContractError
from shared.contract.inputs import prepare_inputs
from shared.contract.outputs import OutputPlan, PlannedEvent, validate_outputs

__all__ = [
    "CommitResult",
    "ContractError",
    "OutputPlan",
    "PlannedEvent",
    "SidecarConfig",
    "commit_outputs",
    "prepare_inputs",
    "validate_outputs",
]
