"""The listing options of the CLI's list commands: the REST API's vocabulary
(`airflow_sc.domain.listing`) spelled as options.

`--<name>-pattern` and `--<name>-prefix-pattern` filter as the API's `<name>_pattern` and
`<name>_prefix_pattern` do, `--order-by` sorts as its `order_by` (`--order-by=-field`
descending, repeatable or comma-separated), and `--limit` / `--offset` page the rows.
Unlike the API, the CLI lists every row unless `--limit` is given.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from airflow_sc.domain.listing import Listing, ListingError, NamePattern, parse_order_by

__all__ = ["add_listing_options", "listing_from", "listing_options_given", "name_pattern_from"]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


class _OrderBy(argparse.Action):
    """Collects `--order-by` values, refusing (as a usage error) a field it cannot sort by."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, keys: Sequence[str], **kwargs: Any
    ) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.keys = keys

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = [*getattr(namespace, self.dest), values]
        try:
            parse_order_by(given, self.keys)
        except ListingError as exc:
            parser.error(f"argument --order-by: {exc}")
        setattr(namespace, self.dest, given)


def add_listing_options(
    parser: argparse.ArgumentParser,
    *,
    order_keys: Sequence[str],
    default_order: str | None,
    patterns: Sequence[str] = (),
    limit: int | None = None,
) -> None:
    """Add `--order-by`, `--limit`, `--offset` and a pattern pair for each of `patterns`
    (attribute names: `dag_id` gives `--dag-id-pattern` and `--dag-id-prefix-pattern`)."""
    group = parser.add_argument_group("listing (as the REST API's list parameters)")
    for name in patterns:
        option, words = name.replace("_", "-"), name.replace("_", " ")
        group.add_argument(
            f"--{option}-pattern",
            dest=f"{name}_pattern",
            metavar="PATTERN",
            help=f"only rows whose {words} contains PATTERN, ignoring case; %% matches any "
            "characters, _ any one, \\ makes the next one literal; | separates alternatives",
        )
        group.add_argument(
            f"--{option}-prefix-pattern",
            dest=f"{name}_prefix_pattern",
            metavar="PREFIX",
            help=f"only rows whose {words} starts with PREFIX (case-sensitive, trailing "
            "punctuation dropped); | separates alternatives",
        )
    group.add_argument(
        "--order-by",
        action=_OrderBy,
        keys=order_keys,
        default=[],
        metavar="FIELD",
        help=f"sort by FIELD; --order-by=-FIELD for descending order (repeat it or "
        f"separate fields with commas); one of: {', '.join(order_keys)}"
        + (f" (default: {default_order})" if default_order else ""),
    )
    group.add_argument(
        "--limit",
        type=_count,
        default=limit,
        metavar="N",
        help="at most N rows" + ("" if limit is None else f" (default: {limit})"),
    )
    group.add_argument(
        "--offset", type=_count, default=0, metavar="N", help="skip the first N rows"
    )


def listing_from(
    args: argparse.Namespace, order_keys: Sequence[str], default_order: str | None
) -> Listing:
    """The `Listing` the options ask for (`--order-by` was checked when parsed). Without
    `--order-by` (nor a `default_order`) rows come in the order of their unique key."""
    given = args.order_by or ([default_order] if default_order else [])
    return Listing(parse_order_by(given, order_keys), limit=args.limit, offset=args.offset)


def name_pattern_from(args: argparse.Namespace, name: str) -> NamePattern:
    return NamePattern(getattr(args, f"{name}_pattern"), getattr(args, f"{name}_prefix_pattern"))


def listing_options_given(args: argparse.Namespace) -> list[str]:
    """The listing options given on the command line, as written (for a mode of a command
    that lists everything and must refuse them rather than ignore them)."""
    given = [
        f"--{name.replace('_', '-')}"
        for name, value in sorted(vars(args).items())
        if name.endswith("_pattern") and value is not None
    ]
    if args.order_by:
        given.append("--order-by")
    if args.limit is not None:
        given.append("--limit")
    if args.offset:
        given.append("--offset")
    return given
