"""Training callbacks with Keras 3's names, hooks and arguments.

>>> from core.callbacks import EarlyStopping
>>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
"""

from core.callbacks.backup import BackupAndRestore
from core.callbacks.base import HOOKS, Callback, History
from core.callbacks.callback_list import CallbackList
from core.callbacks.monitors import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from core.callbacks.progbar import Progbar, ProgbarLogger
from core.callbacks.simple import CSVLogger, LambdaCallback, LearningRateScheduler, TerminateOnNaN
from core.callbacks.tensorboard import TensorBoard

__all__ = [
    "HOOKS", "BackupAndRestore", "Callback", "CallbackList", "History", "EarlyStopping",
    "ModelCheckpoint",
    "Progbar", "ProgbarLogger", "CSVLogger", "LambdaCallback", "LearningRateScheduler",
    "TerminateOnNaN", "ReduceLROnPlateau", "TensorBoard",
]
