"""`tvkit`: the kit's command line. Every command's output is redacted of secrets.

Decisions and reasons:
- **Cut by area** (as `kit/chute/cli.py` was first): each area registers its commands with an
  `add_*_commands(sub)` in its own module (`cli_basic`, `cli_evaluate`, `cli_dataset`, `cli_runs`,
  `cli_model`, and the packages' `cli.py`); this module only assembles them and runs one.
- **Shared arguments** (`kit.cli_args`): one name and one help text per input; the old names are
  hidden aliases for one release. Defaults come from the table in `kit.defaults`.
- **Errors**: a `KitError` prints `error: ...` and exits 2; an unknown command or option gets a
  did-you-mean (`KitArgumentParser`). `tvkit -h` ends with numbered examples.

Usage: `tvkit COMMAND ...` (the console script), or `from kit.cli import main; main(["doctor"])`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import KitError, __version__
from .cli_args import KitArgumentParser

EXAMPLES = """examples:
  1. tvkit doctor                                         is this machine ready, and the next step
  2. tvkit run --profile smoke                            every notebook, offline, in minutes
  3. tvkit run --element kit-example/Detect-fire          the whole journey for a Detect element
  4. tvkit run --only 03 -p miss_rate=0.0,0.3             a sweep on a local Ray
  5. tvkit synth --out data/synth                         synthetic clips with exact ground truth
  6. tvkit dataset build --clips-dir data/synth --out data/ds
  7. tvkit train --data data/ds --preset smoke            detector and pitch model, ONNX exported
  8. tvkit package --out build/bundle                     a checked miner bundle
  9. tvkit evaluate --answer A.json --truth GT.json --video V.mp4
 10. tvkit comply --bundle build/bundle                   the validator's compliance loop, here
 11. tvkit search --element ID --data D.yaml --trials 8  hyper-parameters by the exact score, on Ray
 12. tvkit push --bundle build/bundle --element ID --plan the deploy steps, nothing touched
 13. tvkit runs list ; tvkit ui                           the ledger and the MLflow UI

defaults: kit/defaults.py (one table; profiles are overlays). Each command: tvkit COMMAND -h"""


def build_parser() -> argparse.ArgumentParser:
    from .ball.cli import add_ball_commands
    from .chute.cli import add_chute_commands
    from .cli_basic import add_basic_commands
    from .cli_dataset import add_dataset_commands
    from .cli_evaluate import add_beside_command, add_evaluate_command
    from .cli_manifest import add_manifest_commands
    from .cli_model import add_model_commands
    from .cli_runs import add_run_commands
    from .comply.cli import add_comply_commands
    from .deploy.cli import add_deploy_commands
    from .tune.cli import add_tune_command

    p = KitArgumentParser(prog="tvkit", description="Turbo Vision (subnet 44) miner kit.", epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"tvkit {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_basic_commands, add_evaluate_command, add_beside_command, add_dataset_commands, add_run_commands,
                add_model_commands, add_chute_commands, add_manifest_commands, add_deploy_commands,
                add_comply_commands, add_tune_command, add_ball_commands):
        add(sub)
    return p


#: Commands that are MLflow runs (kit.track); `run` opens its own (the suite, each notebook nested).
TRACKED = ("train", "tune", "evaluate", "dry-run", "comply", "push")


def _tracked(args: argparse.Namespace) -> int:
    """The command, as an MLflow run when it is one of TRACKED: its arguments as parameters, its
    exit code as a metric (the command logs its own scores into the run)."""
    from . import track

    if args.command not in TRACKED:
        return args.func(args)
    params = {k: v for k, v in vars(args).items() if k not in ("func", "command", "verbose")}
    with track.run(args.command, params=params, tags={"tvkit.kind": "command"}) as run:
        code = args.func(args)
        run.log_metrics({"exit_code": code})
        if code:
            run.status = "FAILED"
        return code


def main(argv: list[str] | None = None) -> int:
    from .settings import install_redaction, load_settings

    install_redaction()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    install_redaction()  # again, for the handler basicConfig just added
    try:
        load_settings()  # registers the secrets of .env for redaction
        return _tracked(args)
    except KitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tvkit ... | head`: the reader left; say nothing more
        _silence_stdout()
        return 141
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            _silence_stdout()


def _silence_stdout() -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
