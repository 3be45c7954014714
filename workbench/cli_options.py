"""Option types and option groups shared by the ``workbench`` subcommands (:mod:`workbench.cli`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import EmbedderConfig


def embedder_config(args: argparse.Namespace) -> EmbedderConfig:
    """The embedding model the options of ``audit`` and ``embed`` (the same names) ask for."""
    from workbench.config import EmbedderConfig

    pretrained = None if str(args.clip_pretrained).lower() in ("none", "") else args.clip_pretrained
    return EmbedderConfig(name=args.embedder, clip_model=args.clip_model, clip_pretrained=pretrained,
                          clip_checkpoint=args.clip_checkpoint, batch_size=args.batch_size, device=args.device,
                          cache_dir=args.cache_dir, precision=args.precision, runtime=args.runtime)


def positive_int(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    return bounded_int(1, None)(value)


def bounded_int(low: int, high: int | None):
    """argparse type: a whole number in ``[low, high]`` (no upper bound when ``high`` is None)."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"must be at least {low}" + (f" and at most {high}" if high else "")
                                             + f", not {number}")
        return number
    return parse


def bounded_float(low: float, high: float, *, low_open: bool = False):
    """argparse type: a number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not (low < number if low_open else low <= number) or not number <= high:
            raise argparse.ArgumentTypeError(f"must be {'above' if low_open else 'at least'} {low:g} and at most "
                                             f"{high:g}, not {value}")
        return number
    return parse
