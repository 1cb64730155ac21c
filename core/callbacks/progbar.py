"""Keras-style progress bar and the ``ProgbarLogger`` callback that drives it.

Same text as Keras 3 (``1875/1875 ━━━━━━━━━━━━━━━━━━━━ 3s 1ms/step - accuracy:
0.8786 - loss: 0.4305``), but redrawn at most every ``interval`` seconds (0.1 s)
so a fast training loop does not spend its time printing. ANSI colours are
only used when stdout is a terminal.

>>> bar = Progbar(target=2, verbose=2)
>>> bar.update(1, [("loss", 0.5)])
>>> bar.update(2, [("loss", 0.25)], finalize=True)  # doctest: +ELLIPSIS
2/2 - 0s - ...
"""

from __future__ import annotations

import math
import sys
import time

from core.callbacks.base import Callback


def format_time(seconds: float, unit: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit}"
    return f" {seconds * 1e6:.0f}us/{unit}"


def format_value(v: float) -> str:
    return f" {v:.4f}" if abs(v) > 1e-3 else f" {v:.4e}"


class Progbar:
    """Keras' ``Progbar``: ``update(current, values, finalize)``; values are averaged
    over steps (weighted by the steps since the last update) unless stateful."""

    def __init__(self, target, width=20, verbose=1, interval=0.1, stateful_metrics=None,
                 unit_name="step", stream=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stream = stream
        out = stream or sys.stdout
        self._color = bool(getattr(out, "isatty", lambda: False)())
        self._values: dict[str, list] = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._seen_so_far = 0
        self._prev_width = 0

    def _write(self, text: str) -> None:
        out = self.stream or sys.stdout
        out.write(text)
        out.flush()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._color else text

    def _step_time(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    def due(self) -> bool:
        """True when an update now would redraw (the interval has passed)."""
        return time.time() - self._last_update >= self.interval

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or ():
            if k in self.stateful_metrics or finalize:
                self._values[k] = [v, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                acc = self._values.get(k)
                if acc is None:
                    self._values[k] = [v * weight, weight]
                else:
                    acc[0] += v * weight
                    acc[1] += weight
        self._seen_so_far = current
        now = time.time()
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            per = self._step_time(current, now)
            self._draw(current, now, per, finalize)
        elif self.verbose == 2 and finalize and self.target:
            per = self._step_time(current, now)
            digits = int(math.log10(self.target)) + 1
            info = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            info += format_time(per, self.unit_name) + self._metrics_text()
            self._write(info + "\n")
        self._last_update = now

    def _metrics_text(self) -> str:
        text = ""
        for k, (total, count) in self._values.items():
            text += f" - {k}:" + format_value(total / max(1, count))
        return text

    def _draw(self, current, now, per, finalize):
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"{current:{digits}d}/{self.target}"
            filled = int(self.width * current / self.target)
            bar = self._style(count, "1") + " "
            if filled > 0:
                bar += self._style("━" * filled, "32")
            bar += self._style("━" * (self.width - filled), "37")
            plain = len(count) + 1 + self.width
        else:
            bar = f"{current:7d}/Unknown"
            plain = len(bar)
        if self.target and not finalize:
            eta = per * (self.target - current)
            if eta > 3600:
                eta_text = f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
            elif eta > 60:
                eta_text = f"{int(eta // 60)}:{int(eta % 60):02d}"
            else:
                eta_text = f"{int(eta)}s"
        else:
            eta_text = f"{now - self._start:.0f}s"
        tail = format_time(per, self.unit_name) + self._metrics_text()
        width = plain + 1 + len(eta_text) + len(tail)  # printable characters only
        msg = "\b" * self._prev_width + "\r" + bar + " " + self._style(eta_text, "1") + tail
        if self._prev_width > width:
            msg += " " * (self._prev_width - width)
        if finalize:
            msg += "\n"
        self._write(msg)
        self._prev_width = width


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a progress bar (verbose 1) or one line per epoch (2)."""

    def __init__(self):
        super().__init__()
        self.progbar = None
        self.seen = 0
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self):
        self.progbar = None
        self.seen = 0

    def _init(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step")

    def _update(self, batch, logs):
        self._init()
        self.seen = batch + 1
        if self.verbose == 1:  # verbose 2 only prints the final logs
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def batch_end_lazy(self, batch, get_logs):
        """Like ``on_train_batch_end`` but asks for the logs only when it will redraw."""
        self.seen = batch + 1
        if self.verbose != 1:
            return
        self._init()
        if self.progbar.due():
            self.progbar.update(self.seen, list(get_logs().items()), finalize=False)

    def _finalize(self, logs):
        self._init()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()
            self._init()

    def on_predict_begin(self, logs=None):
        self._reset()
        self._init()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._init()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(None)
