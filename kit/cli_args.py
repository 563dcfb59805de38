"""The arguments every `tvkit` command shares, written once: one name and one help text per input.

Decisions and reasons:
- **One name per input** across the commands, the library and the notebooks: `--answer` (a
  /predict answer), `--truth` (its ground truth), `--bundle` (a miner bundle folder), `--element`
  (an element id), `--manifest`, `--clips` (a count) and `--clips-dir` (a folder of clips). The
  old spellings (`--predictions`, `--ground-truth`, `--model-path`, `--element-id`, `--clips` as
  a folder) stay for one release as hidden aliases (`add_renamed`) that say so on stderr.
- **Defaults come from the table** (kit.defaults): `add_default(parser, key)` reads the type,
  the value and the meaning from it, so an option cannot drift from the notebooks' parameter.
- **A did-you-mean for every name a user types** (`KitArgumentParser`): an unknown command or
  option gets the nearest one (difflib), like an unknown element, profile, `-p` key or notebook.

Usage: `add_manifest_arg(p); add_element_arg(p); add_default(p, "stride")`; the parser class:
`argparse.ArgumentParser(..., ) -> KitArgumentParser(prog="tvkit")`.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from .defaults import check_key, did_you_mean, help_for

MANIFEST_HELP = "where the element is defined: a manifest file, 'live' (the public index) or a URL; default: the " \
                "kit's example manifest"


class KitArgumentParser(argparse.ArgumentParser):
    """argparse with a did-you-mean on an unknown command, choice or option."""

    def error(self, message: str):  # argparse's hook; it exits with status 2
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2)) or [c.strip() for c in choice.group(2).split(",")]
            message += did_you_mean(choice.group(1), options, cutoff=0.5)
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown and unknown.group(1).startswith("-"):
            flags = [s for a in self._actions for s in a.option_strings if a.help != argparse.SUPPRESS]
            flags += [s for a in _subcommand_actions(self) for s in a.option_strings if a.help != argparse.SUPPRESS]
            message += did_you_mean(unknown.group(1).split("=")[0], flags, cutoff=0.5)
        super().error(message)


def _subcommand_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every action of every subcommand below `parser` (argparse reports an unknown option of a
    subcommand at the top)."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += [*sub._actions, *_subcommand_actions(sub)]
    return out


class _Renamed(argparse.Action):
    """A hidden old name: stores into the new option's dest and says the new name on stderr."""

    def __init__(self, option_strings, dest, new: str = "", **kw):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"tvkit: {option_string} is now {self.new} (the old name goes in the next release)", file=sys.stderr)
        if self.nargs == 0:
            values = self.const
        if isinstance(getattr(namespace, self.dest, None), list) and not isinstance(values, list):
            values = [*getattr(namespace, self.dest), values]
        setattr(namespace, self.dest, values)


def add_renamed(parser, old: str, new: str, dest: str, **kw: Any) -> None:
    """`old` as a hidden alias of the option `new` (same dest), with a one-line notice when used."""
    parser.add_argument(old, dest=dest, action=_Renamed, new=new, help=argparse.SUPPRESS, **kw)


def add_default(parser, key: str, *flags: str, help: str | None = None, **kw: Any) -> argparse.Action:
    """An option whose type, default and help come from the defaults table (`--key-name` unless
    flags are given); a bool key is a store_true flag; `choices=True`: argparse checks the table's set."""
    d = check_key(key)
    flags = flags or (f"--{key.replace('_', '-')}",)
    if d.type is bool:
        return parser.add_argument(*flags, dest=key, action="store_true", default=d.value,
                                   help=help or d.meaning)
    kw.setdefault("type", d.type)
    if kw.pop("choices", None) is True:  # the table's closed set (else the library's own check speaks)
        kw["choices"] = [c for c in d.choices if c != ""]
    return parser.add_argument(*flags, dest=key, default=d.value, help=help_for(key, help), **kw)


def add_manifest_arg(parser, help: str | None = None) -> None:
    """`--manifest`: one help text everywhere (a command may say what else it reads it for)."""
    parser.add_argument("--manifest", metavar="M", help=help or MANIFEST_HELP)


def add_element_arg(parser, help: str | None = None, required: bool = False, repeat: bool = False) -> None:
    """`--element ID` (the old `--element-id` as a hidden alias)."""
    text = help or "the element id (`tvkit elements list`), e.g. kit-example/Detect-fire"
    parser.add_argument("--element", metavar="ID", required=required, action="append" if repeat else "store",
                        help=text)
    if not required:
        add_renamed(parser, "--element-id", "--element", "element")


def add_bundle_arg(parser, help: str | None = None, required: bool = False) -> None:
    """`--bundle DIR` (the old `--model-path` as a hidden alias)."""
    parser.add_argument("--bundle", metavar="DIR", required=required,
                        help=help or "the miner bundle folder (`tvkit package --out DIR`)")
    if not required:  # argparse's own required check would refuse the old name
        add_renamed(parser, "--model-path", "--bundle", "bundle")


def add_answer_arg(parser, help: str | None = None, required: bool = False) -> None:
    """`--answer FILE` (the old `--predictions` as a hidden alias)."""
    parser.add_argument("--answer", metavar="FILE", required=required,
                        help=help or "the answer JSON (what /predict returned)")
    if not required:
        add_renamed(parser, "--predictions", "--answer", "answer")


def add_truth_arg(parser, help: str | None = None) -> None:
    """`--truth PATH` (the old `--ground-truth` as a hidden alias)."""
    parser.add_argument("--truth", metavar="PATH", help=help or "the ground-truth JSON, to score the answer")
    add_renamed(parser, "--ground-truth", "--truth", "truth")


def add_clips_dir_arg(parser, help: str) -> None:
    """`--clips-dir DIR` (a folder of clips; `--clips` is a count): the old `--clips DIR` as a hidden alias.
    Never argparse-required (that would refuse the old name): a command that needs it checks it."""
    parser.add_argument("--clips-dir", metavar="DIR", dest="clips_dir", help=help)
    add_renamed(parser, "--clips", "--clips-dir", "clips_dir")


def add_json_arg(parser, help: str = "print the result as JSON") -> None:
    parser.add_argument("--json", action="store_true", help=help)
