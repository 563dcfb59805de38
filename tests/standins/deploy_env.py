"""What the ship/operate tests share: fake credentials (built at run time), a hotkey, the stand-ins'
environment for `tvkit`, and readers of what the kit wrote.

The real huggingface_hub client, real httpx and the real `chutes` CLI (signing with a throwaway
hotkey written to a temporary HOME) talk to the stand-ins on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TVKIT = str(Path(sys.executable).with_name("tvkit"))
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TEMPLATE = SHARED / "reference" / "validator-ea7412f" / "turbovision_chute.py.j2"
ELEMENT = "PlayerDetect_v1@1.0"

CHUTES_KEY = "cpk_" + "x" * 40
NODEV_KEY = "cpk_" + "n" * 40
HF_TOKEN = "hf_" + "y" * 34          # the write token
HF_READ_TOKEN = "hf_" + "r" * 34     # CHUTES_HF_TOKEN: read only
HF_WRITE_TOKEN_2 = "hf_" + "w" * 34  # another write token (must not go to Chutes)
SECRETS = (CHUTES_KEY, NODEV_KEY, HF_TOKEN, HF_READ_TOKEN, HF_WRITE_TOKEN_2)
CREDENTIAL_VARS = ("CHUTES_API_KEY", "HF_TOKEN", "CHUTES_HF_TOKEN", "HF_USER", "CHUTES_USERNAME",
                   "BITTENSOR_WALLET_COLD", "BITTENSOR_WALLET_HOT")


def keypair() -> tuple[str, str]:
    """(seed hex, ss58 address) of a new throwaway hotkey."""
    from bittensor_wallet import Keypair

    seed = os.urandom(32).hex()
    return seed, Keypair.create_from_seed(seed).ss58_address


def write_chutes_config(home: Path, user, seed: str, ss58: str) -> Path:
    cfg = home / ".chutes" / "config.ini"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f"[auth]\nuser_id = {user.user_id}\nusername = {user.username}\nhotkey_seed = {seed}\n"
                   f"hotkey_name = hot\nhotkey_ss58address = {ss58}\n")
    return cfg


def settings_env(tmp: Path, hub, chutes, hotkey, lists=None) -> dict[str, str]:
    """The variables a push needs, pointed at the stand-ins (no os.environ in it)."""
    home = tmp / "home"
    write_chutes_config(home, chutes.users[0], *hotkey)
    wallet = tmp / "wallets" / "cold" / "hotkeys"
    wallet.mkdir(parents=True, exist_ok=True)
    (wallet / "hot").write_text(json.dumps({"ss58Address": hotkey[1]}))  # the public part is all the kit reads
    env = {"HOME": str(home), "HF_HOME": str(tmp / "hf"), "CHUTES_API_KEY": CHUTES_KEY, "HF_TOKEN": HF_TOKEN,
           "CHUTES_HF_TOKEN": HF_READ_TOKEN, "HF_USER": "hfminer", "CHUTES_USERNAME": "miner-one",
           "CHUTES_API_URL": chutes.url, "HF_ENDPOINT": hub.url, "CHUTES_CHUTE_URL": chutes.url + "/run/{slug}",
           "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "TVKIT_DEPLOYMENTS_DIR": str(tmp / "deployments"),
           "BITTENSOR_WALLET_COLD": "cold", "BITTENSOR_WALLET_HOT": "hot",
           "BITTENSOR_WALLET_PATH": str(tmp / "wallets"), "TVKIT_CHUTE_TEMPLATE": str(TEMPLATE),
           "TVKIT_CACHE_DIR": str(tmp / "cache")}
    if lists is not None:
        env.update(lists.urls())
    return env


def tvkit(env: dict[str, str], *args: str, cwd=None, timeout: float = 600, stdin=None) -> subprocess.CompletedProcess:
    """Run `tvkit ARGS`; fails the test if a credential shows up in its output."""
    r = subprocess.run([TVKIT, *args], capture_output=True, text=True, env=env, cwd=cwd or env.get("HOME"),
                       timeout=timeout, input=stdin)
    for secret in SECRETS:
        assert secret not in r.stdout and secret not in r.stderr, f"a secret was printed by tvkit {args[0]}"
    return r


def ledger(env: dict[str, str]) -> list[dict]:
    path = os.path.join(env["TVKIT_DEPLOYMENTS_DIR"], "ledger.jsonl")
    return [json.loads(ln) for ln in open(path)] if os.path.exists(path) else []


def assert_no_secret_in_tree(folder) -> None:
    for root, _, files in os.walk(folder):
        for f in files:
            data = open(os.path.join(root, f), "rb").read()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{f} holds a secret"
