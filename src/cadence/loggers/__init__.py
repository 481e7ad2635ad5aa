"""Experiment loggers: TensorBoard, CSV and JSON lines, fed by handlers attached to engine events.

Example:
    >>> import os, tempfile
    >>> import torch
    >>> from cadence import Engine, Events
    >>> from cadence.loggers import CSVLogger
    >>> model = torch.nn.Linear(2, 1)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> trainer = Engine(lambda engine, batch: 0.5)
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> with CSVLogger(path) as logger:
    ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train",
    ...                                      output_transform=lambda loss: {"loss": loss})
    ...     _ = logger.attach_opt_params_handler(trainer, Events.EPOCH_STARTED, optimizer)
    ...     _ = trainer.run([0, 0])
    >>> print(open(path).read().strip())
    event,step,lr/group_0,train/loss
    epoch_started,1,0.1,
    iteration_completed,1,,0.5
    iteration_completed,2,,0.5
"""

from cadence.loggers.base import (
    BaseHandler,
    BaseOptimizerParamsHandler,
    BaseOutputHandler,
    BaseWeightsHandler,
    BaseWeightsScalarHandler,
    global_step_from_engine,
)
from cadence.loggers.csv import CSVLogger, JSONLinesLogger
from cadence.loggers.logger import BaseLogger
from cadence.loggers.scalars import GradsScalarHandler, OptimizerParamsHandler, OutputHandler, WeightsScalarHandler
from cadence.loggers.tensorboard import TensorboardLogger

__all__ = [
    "BaseHandler",
    "BaseLogger",
    "BaseOptimizerParamsHandler",
    "BaseOutputHandler",
    "BaseWeightsHandler",
    "BaseWeightsScalarHandler",
    "CSVLogger",
    "GradsScalarHandler",
    "JSONLinesLogger",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TensorboardLogger",
    "WeightsScalarHandler",
    "global_step_from_engine",
]
