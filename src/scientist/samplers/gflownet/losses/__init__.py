"""GFlowNet training objectives, one per module."""

from scientist.samplers.gflownet.losses.modified_db import modified_db_loss

__all__ = ["modified_db_loss"]
