"""Ship and operate against local stand-ins of the Hub and the Chutes API (real sockets on 127.0.0.1).

The real huggingface_hub client, real httpx and the real `chutes` CLI (signing with a throwaway
hotkey written to a temporary HOME) talk to tests/standins; every request is recorded and
asserted. Tokens are built by concatenation so no token-shaped string is tracked.
"""
import json
import os
import shutil
import subprocess

import pytest

from conftest import TVKIT
from standins.chutes_api import ChutesStandIn, User
from standins.hub import HubStandIn

CHUTES_KEY = "cpk_" + "x" * 40
NODEV_KEY = "cpk_" + "n" * 40
HF_TOKEN = "hf_" + "y" * 34
HF_READ_TOKEN = "hf_" + "r" * 34
SECRETS = (CHUTES_KEY, NODEV_KEY, HF_TOKEN, HF_READ_TOKEN)
CREDENTIAL_VARS = ("CHUTES_API_KEY", "HF_TOKEN", "HF_USER", "CHUTES_USERNAME", "BITTENSOR_WALLET_COLD",
                   "BITTENSOR_WALLET_HOT")


def _keypair():
    from substrateinterface import Keypair

    seed = os.urandom(32).hex()
    return seed, Keypair.create_from_seed(seed).ss58_address


@pytest.fixture(scope="module")
def hotkey():
    return _keypair()


@pytest.fixture
def hub():
    s = HubStandIn(write_tokens=[HF_TOKEN], read_tokens=[HF_READ_TOKEN]).start()
    yield s
    s.stop()


@pytest.fixture
def chutes(hotkey):
    s = ChutesStandIn([User("miner-one", CHUTES_KEY, hotkey[1]), User("plain-user", NODEV_KEY, developer=False)])
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from kit.bundle import package

    return package(tmp_path_factory.mktemp("bundle") / "bundle")


def write_chutes_config(home, user, seed, ss58):
    cfg = home / ".chutes" / "config.ini"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f"[auth]\nuser_id = {user.user_id}\nusername = {user.username}\nhotkey_seed = {seed}\n"
                   f"hotkey_name = hot\nhotkey_ss58address = {ss58}\n")
    return cfg


@pytest.fixture
def env(tmp_path, hub, chutes, hotkey):
    """A tvkit environment pointed at the stand-ins, with credentials, a chutes config and a wallet."""
    home = tmp_path / "home"
    write_chutes_config(home, chutes.users[0], *hotkey)
    wallet = tmp_path / "wallets" / "cold" / "hotkeys"
    wallet.mkdir(parents=True)
    (wallet / "hot").write_text(json.dumps({"ss58Address": hotkey[1]}))  # the public part is all push reads
    return {**os.environ, "HOME": str(home), "HF_HOME": str(tmp_path / "hf"), "CHUTES_API_KEY": CHUTES_KEY,
            "HF_TOKEN": HF_TOKEN, "HF_USER": "hfminer", "CHUTES_USERNAME": "miner-one", "CHUTES_API_URL": chutes.url,
            "HF_ENDPOINT": hub.url, "CHUTES_CHUTE_URL": chutes.url + "/run/{slug}", "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_XET": "1", "TVKIT_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
            "BITTENSOR_WALLET_COLD": "cold", "BITTENSOR_WALLET_HOT": "hot",
            "BITTENSOR_WALLET_PATH": str(tmp_path / "wallets")}


def tvkit(env, *args, cwd=None, timeout=300):
    r = subprocess.run([TVKIT, *args], capture_output=True, text=True, env=env, cwd=cwd or env["HOME"],
                       timeout=timeout)
    for secret in SECRETS:
        assert secret not in r.stdout and secret not in r.stderr, f"a secret was printed by tvkit {args[0]}"
    return r


def ledger(env):
    path = os.path.join(env["TVKIT_DEPLOYMENTS_DIR"], "ledger.jsonl")
    return [json.loads(ln) for ln in open(path)] if os.path.exists(path) else []


def assert_no_secret_in_tree(folder):
    for root, _, files in os.walk(folder):
        for f in files:
            data = open(os.path.join(root, f), "rb").read()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{f} holds a secret"


# --- push, end to end, then every operate command on what it deployed -------------------------------

def test_push_then_operate_end_to_end(env, hub, chutes, bundle, hotkey):
    r = tvkit(env, "push", "--model-path", str(bundle))
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    out = dict(ln.split(None, 1) for ln in r.stdout.splitlines()[:2])
    revision = out["revision"].strip()
    assert len(revision) == 40 and hub.repos["hfminer/turbovision-miner"]["branches"]["main"] == revision
    from kit.chute.render import chute_name

    name = chute_name("hfminer/turbovision-miner", revision)
    assert out["chute"].split()[-1] == name
    slug = f"miner-one-{name}"
    assert f"slug       {slug}" in r.stdout
    assert "bittensor is not installed" in r.stdout

    # the Hub: private repo, one commit holding the bundle (weights through LFS), token as a header
    create = hub.seen("POST", "/api/repos/create")[0]
    assert create.json()["name"] == "turbovision-miner" and create.json()["organization"] == "hfminer"
    assert create.json().get("visibility") == "private" or create.json().get("private") is True
    assert create.headers["authorization"] == f"Bearer {HF_TOKEN}"
    commits = hub.seen("POST", r"/commit/main$")
    assert len(commits) == 1
    ops = [json.loads(ln) for ln in commits[0].body.decode().splitlines()]
    assert {o["value"]["path"] for o in ops if o["key"] == "lfsFile"} == {"detect.onnx", "pose.onnx"}
    assert {o["value"]["path"] for o in ops if o["key"] == "file"} == \
        {f.name for f in bundle.iterdir() if f.suffix != ".onnx"} >= {"miner.py", "chute_config.yml"}
    held = hub.files_at("hfminer/turbovision-miner", revision)
    assert held["pose.onnx"] == (bundle / "pose.onnx").read_bytes()

    # Chutes: the real CLI signed build and deploy with the hotkey; the kit used the API key
    image_post = chutes.seen("POST", "^/images/$")[0]
    assert image_post.headers["x-chutes-hotkey"] == hotkey[1] and "authorization" not in image_post.headers
    deploy = chutes.seen("POST", "^/chutes/$")[0]
    assert deploy.query["accept_fee"] == ["true"] and deploy.headers["x-chutes-hotkey"] == hotkey[1]
    body = deploy.json()
    assert body["name"] == name and f'REVISION = "{revision}"' in body["code"]
    assert 'HF_REPO = "hfminer/turbovision-miner"' in body["code"]
    lookups = chutes.seen("GET", f"^/chutes/{name}$")
    assert len(lookups) == 2 and all(q.headers["authorization"] == f"Bearer {CHUTES_KEY}" for q in lookups)
    for q in chutes.requests:  # the Hub token never goes to Chutes
        assert HF_TOKEN not in json.dumps(q.headers) and HF_TOKEN.encode() not in q.body

    # the ledger: revision, chute name, slug, the commitment with the wallet's hotkey; no secret
    (entry,) = ledger(env)
    assert (entry["event"], entry["revision"], entry["chute_name"], entry["slug"]) == ("push", revision, name, slug)
    assert entry["deployed"] is True and entry["commitment"] == {
        "role": "miner", "model": "hfminer/turbovision-miner", "revision": revision,
        "chute_id": entry["chute_id"], "slug": slug, "hotkey": hotkey[1]}
    assert_no_secret_in_tree(env["TVKIT_DEPLOYMENTS_DIR"])

    # find it
    r = tvkit(env, "chute-slug", "--revision", revision, "--json")
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["slug"] == slug and found["url"] == f"{chutes.url}/run/{slug}"
    r = tvkit(env, "chutes-list", "--json")
    assert r.returncode == 0 and [c["revision"] for c in json.loads(r.stdout)] == [revision]
    assert chutes.seen("GET", "^/chutes/$")[-1].query["include_public"] == ["false"]

    # warm it up, read an instance's logs
    r = tvkit(env, "warmup", "--revision", revision)
    assert r.returncode == 0 and "[hot]" in r.stdout, r.stdout + r.stderr
    r = tvkit(env, "chute-logs", "--instance", found["instances"][0], "--backfill", "2")
    assert r.returncode == 0 and r.stdout.splitlines() == ["miner loaded; self-test passed",
                                                           "/predict success=True frames=60"]
    assert chutes.seen("GET", "/logs$")[-1].query["backfill"] == ["2"]

    # test it like a validator: health, then a challenge on a local clip, scored, recorded
    r = tvkit(env, "ping-chute", "--revision", revision)
    assert r.returncode == 0 and json.loads(r.stdout)["model_loaded"] is True
    r = tvkit(env, "test-chute", "--revision", revision, "--frames", "12", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True
    predict = chutes.seen("POST", f"^/run/{slug}/predict$")[-1]
    assert predict.headers["authorization"] == f"Bearer {CHUTES_KEY}"
    assert predict.json()["meta"]["n_frames_total"] == 12
    test_entry = ledger(env)[-1]
    assert test_entry["event"] == "test" and test_entry["revision"] == revision and test_entry["ok"] is True
    assert test_entry["final"] is not None and test_entry["seconds"] > 0

    # retire it: refused without confirmation, then chute and image deleted with --yes
    r = tvkit(env, "delete-chute", "--revision", revision)
    assert r.returncode != 0 and "--yes" in r.stderr and chutes.chutes
    r = tvkit(env, "delete-chute", "--revision", revision, "--yes")
    assert r.returncode == 0, r.stderr
    assert not chutes.chutes and not chutes.images
    assert ledger(env)[-1]["event"] == "delete"
    r = tvkit(env, "chute-slug", "--revision", revision)
    assert r.returncode != 0 and "tvkit push --revision" in r.stderr and "chutes-list" in r.stderr


def test_push_refuses_a_bundle_that_breaks_a_rule_before_uploading(env, hub, chutes, bundle, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    (bad / "miner.py").write_text("import socket\n" + (bad / "miner.py").read_text())
    from kit.chute_rules import check_bundle

    rules = {v.rule for v in check_bundle(bad, run_self_test=False)}
    assert rules  # the kit's own rules say this bundle may not ship
    r = tvkit(env, "push", "--model-path", str(bad))
    assert r.returncode != 0 and all(f"[{rule}]" in r.stderr for rule in rules), r.stderr
    assert hub.requests == [] and chutes.requests == []


def test_push_no_deploy_uploads_only_and_a_second_push_replaces_stale_files(env, hub, chutes, bundle, tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(bundle, mine)
    (mine / "notes.txt").write_text("first version\n")
    r = tvkit(env, "push", "--model-path", str(mine), "--no-deploy")
    assert r.returncode == 0, r.stderr
    first = r.stdout.split()[1]
    (mine / "notes.txt").unlink()
    r = tvkit(env, "push", "--model-path", str(mine), "--no-deploy")
    second = r.stdout.split()[1]
    assert second != first
    assert "notes.txt" in hub.files_at("hfminer/turbovision-miner", first)
    assert "notes.txt" not in hub.files_at("hfminer/turbovision-miner", second)
    assert chutes.requests == []
    assert [(e["revision"], e["deployed"]) for e in ledger(env)] == [(first, False), (second, False)]


def test_push_of_an_existing_revision_and_of_one_that_does_not_exist(env, hub, chutes, bundle):
    r = tvkit(env, "push", "--model-path", str(bundle), "--no-deploy")
    revision = r.stdout.split()[1]
    r = tvkit(env, "push", "--revision", revision[:7], "--no-commit")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1] == revision and "--no-commit" in r.stdout
    assert len(hub.seen("POST", "/commit/")) == 1  # nothing uploaded the second time
    r = tvkit(env, "push", "--revision", "deadbeefcafe")
    assert r.returncode != 0 and "has no revision 'deadbeefcafe'" in r.stderr
    assert len(chutes.seen("POST", "^/chutes/$")) == 1


def test_push_says_when_the_chute_name_is_taken(env, chutes, bundle):
    assert tvkit(env, "push", "--model-path", str(bundle)).returncode == 0
    revision = ledger(env)[0]["revision"]
    r = tvkit(env, "push", "--revision", revision)
    assert r.returncode != 0 and "is taken" in r.stderr and f"tvkit delete-chute --revision {revision}" in r.stderr
    assert ledger(env)[-1]["status"] == "failed at name check"


def test_the_real_chutes_cli_conflict_409_is_reported_as_name_taken(env, chutes, bundle):
    """A chute that appears between our check and the CLI's deploy: the CLI's 409 becomes 'taken'."""
    from kit.chute.render import chute_name

    r = tvkit(env, "push", "--model-path", str(bundle), "--no-deploy")
    revision = r.stdout.split()[1]
    name = chute_name("hfminer/turbovision-miner", revision)
    # our name check sees 404 (injected once), then the CLI's POST /chutes/ meets an existing chute
    chutes.fail("GET", f"^/chutes/{name}$", 404, body={"detail": "Chute not found"})
    chutes.chutes["x"] = {"id": "x", "name": name, "user_id": chutes.users[0].user_id, "slug": "old-slug",
                          "hot": False, "image": {"id": "i", "name": name, "tag": "t", "status": "built and pushed",
                                                  "created_at": ""}, "created_at": "", "instances": []}
    r = tvkit(env, "push", "--revision", revision)
    assert r.returncode != 0 and "is taken" in r.stderr and "old-slug" in r.stderr
    assert chutes.seen("POST", "^/chutes/$"), "the deploy itself must have been tried"


def test_push_with_a_non_developer_key_or_unregistered_hotkey(env, chutes, bundle, tmp_path):
    r = tvkit({**env, "CHUTES_API_KEY": NODEV_KEY}, "push", "--model-path", str(bundle))
    assert r.returncode != 0 and "HTTP 401" in r.stderr and "developer" in r.stderr
    assert ledger(env)[-1]["status"] == "failed at name check"
    # the CLI's own error (a hotkey Chutes does not know) is surfaced, not swallowed
    seed, ss58 = _keypair()
    write_chutes_config(tmp_path / "home", chutes.users[0], seed, ss58)
    r = tvkit(env, "push", "--revision", ledger(env)[-1]["revision"])
    assert r.returncode != 0 and "`chutes build` failed" in r.stderr and "Unknown hotkey" in r.stderr
    assert "developer-enabled" in r.stderr, r.stderr[-1500:]
    assert not chutes.chutes


def test_push_without_a_chutes_config_says_to_register(env, bundle, tmp_path):
    os.remove(tmp_path / "home" / ".chutes" / "config.ini")
    r = tvkit(env, "push", "--model-path", str(bundle))
    assert r.returncode != 0 and "chutes register" in r.stderr


def test_push_hub_rate_limit_says_how_long_to_wait(env, hub, chutes, bundle):
    hub.fail("POST", "/commit/main$", 429, headers={"Retry-After": "1800"},
             body={"error": "You have exceeded our hourly quotas for action: commit"})
    r = tvkit(env, "push", "--model-path", str(bundle))
    assert r.returncode != 0 and "rate limit" in r.stderr and "30 min" in r.stderr
    assert "Nothing was committed" in r.stderr and chutes.requests == []


def test_push_with_a_read_only_or_unknown_hf_token(env, hub, bundle):
    r = tvkit({**env, "HF_TOKEN": HF_READ_TOKEN}, "push", "--model-path", str(bundle), "--no-deploy")
    assert r.returncode != 0 and "HTTP 403" in r.stderr and "read-only" in r.stderr
    r = tvkit({**env, "HF_TOKEN": "hf_" + "z" * 34}, "push", "--model-path", str(bundle), "--no-deploy")
    assert r.returncode != 0 and "HTTP 401" in r.stderr and "write token" in r.stderr
    assert not hub.repos


# --- no credentials: every command names what is missing and how to get it ---------------------

@pytest.mark.parametrize("args,needs", [
    (["push", "--model-path", "nowhere"], ["HF_TOKEN", "HF_USER", "CHUTES_API_KEY", "CHUTES_USERNAME"]),
    (["push", "--revision", "abc1234", "--no-deploy"], ["HF_TOKEN", "HF_USER"]),
    (["chute-slug", "--revision", "abc1234"], ["CHUTES_API_KEY", "HF_USER"]),
    (["chutes-list"], ["CHUTES_API_KEY"]),
    (["ping-chute", "--revision", "abc1234"], ["CHUTES_API_KEY", "HF_USER"]),
    (["test-chute", "--revision", "abc1234"], ["CHUTES_API_KEY", "HF_USER"]),
    (["warmup", "--revision", "abc1234"], ["CHUTES_API_KEY", "HF_USER"]),
    (["chute-logs", "--instance", "i-1"], ["CHUTES_API_KEY"]),
    (["delete-chute", "--revision", "abc1234", "--yes"], ["CHUTES_API_KEY", "HF_USER"]),
], ids=lambda v: v[0] if isinstance(v, list) and v and not v[0].isupper() else None)
def test_without_credentials_every_command_says_what_is_missing(tmp_path, args, needs):
    from kit.settings import SETTINGS_HELP

    env = {**os.environ, **{k: "" for k in CREDENTIAL_VARS}, "HOME": str(tmp_path),
           "TVKIT_DEPLOYMENTS_DIR": str(tmp_path / "dep")}
    r = tvkit(env, *args, cwd=tmp_path)
    assert r.returncode != 0
    for name in needs:
        assert f"{name}: {SETTINGS_HELP[name][1]}" in r.stderr, r.stderr
    assert not (tmp_path / "dep").exists()


def test_ping_and_test_chute_keep_their_options_and_refuse_ambiguity(env):
    r = tvkit(env, "ping-chute", "--url", "http://127.0.0.1:9", "--revision", "abc1234")
    assert r.returncode != 0 and "--revision R" in r.stderr
    r = tvkit(env, "test-chute")
    assert r.returncode != 0 and "--local" in r.stderr and "--url" in r.stderr and "--revision" in r.stderr
    r = tvkit(env, "ping-chute", "--url", "http://127.0.0.1:9")  # --url alone still goes to the URL
    assert r.returncode != 0 and "http://127.0.0.1:9/health: no answer" in r.stderr


def test_push_plan_lists_the_calls_and_touches_nothing(env, hub, chutes):
    r = tvkit(env, "push", "--plan")
    assert r.returncode == 0
    assert f"POST {hub.url}/api/repos/create" in r.stdout and f"POST {hub.url}/api/models/hfminer/" in r.stdout
    assert f"POST {chutes.url}/chutes/?accept_fee=true" in r.stdout and "missing" not in r.stdout
    assert hub.requests == [] and chutes.requests == []
