"""Chute piece 1 of 3, setup: the image, the node selector and the chute's own settings.

Everything comes from the bundle's `chute_config.yml` (its `Image`, `NodeSelector` and `Chute`
sections), which `tvkit generate-chute-script` reads and bakes into the rendered chute file as
`CHUTE_CONFIG`, so the file that `chutes build` and `chutes deploy` see is self-contained.
Edit this file to change how a config becomes a chute (an extra apt package, an environment
variable in the image); edit `chute_config.yml` to change the values.

The rendered file inlines this module, `load.py` and `predict.py` in that order, then the
template; no piece imports another.
"""

from __future__ import annotations

from typing import Any

#: Settings the chutes runtime accepts on `Chute(...)` (0.6.x has no `timeout_seconds`).
CHUTE_KEYS = ("concurrency", "max_instances", "scaling_threshold", "shutdown_after_seconds")


def image_tag(revision: str) -> str:
    """A docker tag for this revision: lowercase, at most 32 characters."""
    return "".join(c for c in revision.lower() if c.isalnum() or c in "-_.")[:32] or "latest"


def build_image(config: dict[str, Any], username: str, name: str, revision: str):
    """The chute image: the configured base image and its run commands, in order."""
    from chutes.image import Image

    spec = config.get("Image") or {}
    image = Image(username=username, name=name, tag=image_tag(revision))
    if spec.get("from_base"):
        image = image.from_base(spec["from_base"])
    for command in spec.get("run_command") or []:
        image = image.run_command(command)
    for key, value in (spec.get("env") or {}).items():
        image = image.with_env(key, str(value))
    return image


def build_node_selector(config: dict[str, Any]):
    """GPU count, VRAM and the GPU include/exclude lists (required by `chutes deploy`)."""
    from chutes.chute import NodeSelector

    spec = dict(config.get("NodeSelector") or {})
    for key in ("include", "exclude"):
        if not spec.get(key):
            spec.pop(key, None)  # an empty list would select no GPU at all
    return NodeSelector(**spec)


def chute_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `Chute(...)`: concurrency, instances, scaling, idle shutdown."""
    spec = config.get("Chute") or {}
    return {k: spec[k] for k in CHUTE_KEYS if k in spec}
