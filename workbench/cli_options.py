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


def add_source_options(parser: argparse.ArgumentParser, *, split_help: str) -> None:
    """What to read and into which FiftyOne dataset: the options ``audit`` and ``resplit`` share."""
    from workbench.io.formats.registry import format_choices

    parser.add_argument("source", help="path, or the name of an existing FiftyOne dataset")
    parser.add_argument("--format", default="auto", choices=format_choices())
    parser.add_argument("--name", help="FiftyOne dataset name (default derived from the path)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing FiftyOne dataset of that name that was loaded from another source")
    parser.add_argument("--allow-outside-root", action="store_true",
                        help="read images and annotation files that resolve outside the dataset folder (default: "
                             "reported, never read)")
    parser.add_argument("--images", help="COCO: folder the JSON's file_name entries are relative to")
    parser.add_argument("--label-field", help="ground-truth field (default: detected)")
    parser.add_argument("--split-field", help=split_help)
