"""`tvkit push` and the operate commands, as a miner runs them, against local stand-ins (127.0.0.1).

The real huggingface_hub client, httpx and the real `chutes` CLI (signing with a throwaway hotkey)
talk to tests/standins; every request is recorded and asserted. bittensor is not installed here,
so these pushes run with --no-commit (or stop at the checks saying so); the committed path and
the order of calls are in test_deploy_order.py.
"""
import json
import os

import pytest

from standins.chutes_api import ChutesStandIn, User
from standins.deploy_env import (
    CHUTES_KEY,
    CREDENTIAL_VARS,
    ELEMENT,
    HF_READ_TOKEN,
    HF_TOKEN,
    HF_WRITE_TOKEN_2,
    NODEV_KEY,
    assert_no_secret_in_tree,
    keypair,
    ledger,
    settings_env,
    tvkit,
)
from standins.hub import HubStandIn
from standins.tiny_bundle import tiny_bundle

REPO_ID = "hfminer/ScoreVision"


@pytest.fixture(scope="module")
def hotkey():
    return keypair()


@pytest.fixture
def hub():
    s = HubStandIn(write_tokens=[HF_TOKEN, HF_WRITE_TOKEN_2], read_tokens=[HF_READ_TOKEN]).start()
    yield s
    s.stop()


@pytest.fixture
def chutes(hotkey):
    s = ChutesStandIn([User("miner-one", CHUTES_KEY, hotkey[1]), User("plain-user", NODEV_KEY, developer=False)],
                      hf_read_tokens=[HF_READ_TOKEN])
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("bundle") / "bundle")


@pytest.fixture
def env(tmp_path, hub, chutes, hotkey):
    return {**os.environ, **settings_env(tmp_path, hub, chutes, hotkey)}


def push_args(bundle, *extra):
    return ("push", "--bundle", str(bundle), "--element", ELEMENT, "--manifest", "example", *extra)


# --- the whole journey, --no-commit, then every operate command ----------------------------------

def test_push_no_commit_keeps_the_repo_private_then_operate(env, hub, chutes, bundle, hotkey):
    r = tvkit(env, *push_args(bundle, "--no-commit"))
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    out = {ln.split(None, 1)[0]: ln.split(None, 1)[1] for ln in r.stdout.splitlines() if len(ln.split(None, 1)) == 2}
    revision = out["revision"].strip()
    assert len(revision) == 40 and hub.repos[REPO_ID]["branches"]["main"] == revision
    from kit.chute.official import chute_name

    name = chute_name(revision, "hfminer")
    slug = f"miner-one-{name}"
    commitment = json.loads(out["commitment"])
    assert commitment == {"role": "miner", "model": REPO_ID, "revision": revision,
                          "chute_id": commitment["chute_id"], "slug": slug, "hotkey": hotkey[1], "element_id": ELEMENT}
    assert list(commitment) == ["role", "model", "revision", "chute_id", "slug", "hotkey", "element_id"]
    assert "stays private" in r.stdout and "tvkit publish" in r.stdout

    # the Hub: created private, kept private, one commit of the bundle; never made public
    create = hub.seen("POST", "/api/repos/create")[0].json()
    assert create["name"] == "ScoreVision" and create["organization"] == "hfminer"
    assert create.get("visibility") == "private" or create.get("private") is True
    assert hub.visibility_log == [(REPO_ID, "private")] and hub.repos[REPO_ID]["private"] is True
    assert len(hub.seen("POST", r"/commit/main$")) == 1
    assert hub.files_at(REPO_ID, revision)["mean.onnx"] == (bundle / "mean.onnx").read_bytes()
    # the chutes CLI read the private repo with CHUTES_HF_TOKEN, never the write token
    downloads = hub.seen(None, "/resolve/")
    assert downloads and {q.headers["authorization"] for q in downloads} == {f"Bearer {HF_READ_TOKEN}"}

    # Chutes: the official chute, built public, deployed, the read token as its HF_TOKEN secret, warmed, healthy
    image = chutes.seen("POST", "^/images/$")[0]
    assert image.headers["x-chutes-hotkey"] == hotkey[1] and b'name="public"' in image.body
    deploy = chutes.seen("POST", "^/chutes/$")[0].json()
    assert deploy["name"] == name and f'HF_REPO_REVISION = "{revision}"' in deploy["code"]
    from kit.chute.official import verify_text

    assert verify_text(deploy["code"]).match
    (chute_id,) = [c["id"] for c in chutes.chutes.values()]
    assert chutes.secrets == {(chute_id, "HF_TOKEN"): HF_READ_TOKEN}
    seq = {p: min(q.seq for q in chutes.requests if p in q.path) for p in ("/secrets/", "/warmup/", "/health")}
    assert seq["/secrets/"] < seq["/warmup/"] < seq["/health"]
    for q in chutes.requests:  # the write token never goes to Chutes; the read token only as the secret
        assert HF_TOKEN not in json.dumps(q.headers) and HF_TOKEN.encode() not in q.body
        assert HF_READ_TOKEN.encode() not in q.body or q.path == "/secrets/"

    # the ledger: the commitment, not committed, repo private; no secret anywhere the kit wrote
    (entry,) = ledger(env)
    assert ((entry["revision"], entry["chute_name"], entry["slug"], entry["element_id"])
            == (revision, name, slug, ELEMENT))
    assert entry["committed"] is False and entry["public"] is False and entry["commitment"] == commitment
    assert entry["done"] == ["checks", "upload", "render", "build", "deploy", "secret", "warmup", "health"]
    assert_no_secret_in_tree(env["TVKIT_DEPLOYMENTS_DIR"])

    # find it, list it, read an instance's logs, ping it
    r = tvkit(env, "chute-slug", "--revision", revision[:10], "--json")
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["slug"] == slug and found["url"] == f"{chutes.url}/run/{slug}"
    r = tvkit(env, "chutes-list", "--json")
    assert r.returncode == 0 and [c["revision"] for c in json.loads(r.stdout)] == [revision]
    r = tvkit(env, "warmup", "--revision", revision)
    assert r.returncode == 0 and "[hot]" in r.stdout, r.stdout + r.stderr
    r = tvkit(env, "chute-logs", "--instance", found["instances"][0], "--backfill", "2")
    assert r.returncode == 0 and r.stdout.splitlines() == ["miner loaded; self-test passed",
                                                           "/predict success=True frames=60"]

    # publish after committing by hand: asks without --yes, then the repo is public
    r = tvkit(env, "publish")
    assert r.returncode != 0 and "--yes" in r.stderr and hub.repos[REPO_ID]["private"] is True
    r = tvkit(env, "publish", "--yes")
    assert r.returncode == 0 and hub.repos[REPO_ID]["private"] is False
    assert hub.visibility_log[-1] == (REPO_ID, "public") and ledger(env)[-1]["event"] == "publish"

    # retire it
    r = tvkit(env, "delete-chute", "--revision", revision, "--yes")
    assert r.returncode == 0, r.stderr
    assert not chutes.chutes and not chutes.images and ledger(env)[-1]["event"] == "delete"


# --- the plan ------------------------------------------------------------------------------------

def test_push_plan_json_lists_the_steps_in_order_and_the_exact_commitment(env, hub, chutes, hotkey):
    from kit.deploy.push import PUSH_STEPS

    r = tvkit(env, "push", "--plan", "--json", "--element", ELEMENT)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert [st["name"] for st in plan["steps"]] == list(PUSH_STEPS)
    c = plan["commitment"]
    assert list(c) == ["role", "model", "revision", "chute_id", "slug", "hotkey", "element_id"]
    assert (c["role"], c["model"], c["hotkey"], c["element_id"]) == ("miner", REPO_ID, hotkey[1], ELEMENT)
    assert c["revision"].startswith("<") and c["chute_id"].startswith("<")
    assert plan["missing"] == []
    assert f"POST {chutes.url}/secrets/" in r.stdout and f"PUT {hub.url}/api/models/{REPO_ID}/settings" in r.stdout
    assert hub.requests == [] and chutes.requests == []  # touches nothing
    # without credentials: the same steps, placeholders, and what is missing
    bare = {**env, **{k: "" for k in CREDENTIAL_VARS}}
    r = tvkit(bare, "push", "--plan", "--json", "--element", ELEMENT, "--no-commit")
    plan = json.loads(r.stdout)
    assert r.returncode == 0 and [st["name"] for st in plan["steps"]] == list(PUSH_STEPS[:-2])
    assert plan["commitment"]["model"] == "<HF_USER>/ScoreVision" and plan["commitment"]["element_id"] == ELEMENT
    r = tvkit(bare, "push", "--plan", "--element", ELEMENT, "--no-commit")
    assert "missing to run it for real: HF_USER, HF_TOKEN, CHUTES_API_KEY, CHUTES_USERNAME, CHUTES_HF_TOKEN" in r.stdout


# --- which element ---------------------------------------------------------------------------------

def test_push_without_element_and_without_a_terminal_lists_the_choices(env, hub, bundle):
    r = tvkit(env, "push", "--bundle", str(bundle), "--manifest", "example")
    assert r.returncode == 2 and "--element" in r.stderr
    for eid in ("PlayerDetect_v1@1.0", "DetectBall_v1@1.0", "PitchCalib_v1@1.0"):
        assert eid in r.stderr
    r = tvkit(env, *push_args(bundle)[:-4], "--element", "PlayerDetect_v1@1.1", "--manifest", "example")
    assert r.returncode == 2 and "did you mean 'PlayerDetect_v1@1.0'" in r.stderr
    assert hub.requests == []


def test_push_asks_for_the_element_in_a_terminal(env, bundle, tmp_path):
    import pty
    import subprocess

    from standins.deploy_env import TVKIT

    leader, follower = pty.openpty()
    bare = {**env, "HF_TOKEN": ""}  # stops right after the choice: the element was taken, then a credential lacks
    proc = subprocess.Popen([TVKIT, "push", "--bundle", str(bundle), "--manifest", "example"], stdin=follower,
                            stdout=subprocess.PIPE, stderr=follower, env=bare, cwd=tmp_path)
    os.close(follower)
    os.write(leader, b"9\n2\n")
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(leader)
    text = seen.decode(errors="replace")
    assert "1. PlayerDetect_v1@1.0" in text and "4. kit-example/Detect-fire" in text and "a number from 1 to 4" in text
    assert proc.returncode == 2 and "HF_TOKEN" in text and "not set" in text


# --- failures: each stops, says what is done and what next, and never makes the repo public -------

def test_push_refuses_without_bittensor_before_uploading(env, hub, chutes, bundle):
    r = tvkit(env, *push_args(bundle))
    assert r.returncode == 2 and "bittensor is not installed" in r.stderr and "--no-commit" in r.stderr
    assert "stopped at step 'checks'" in r.stderr and "done: nothing" in r.stderr
    assert not hub.seen("POST") and not chutes.requests
    assert ledger(env) == []  # nothing was done, nothing to record


def test_push_refuses_a_bundle_that_fails_comply_before_uploading(env, hub, chutes, bundle, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    (bad / "miner.py").write_text("import socket\n" + (bad / "miner.py").read_text())
    r = tvkit(env, *push_args(bad, "--no-commit"))
    assert r.returncode == 2 and "does not pass `tvkit comply`" in r.stderr and "disallowed_import" in r.stderr
    assert not hub.seen("POST") and not chutes.requests


def test_build_failure_stops_with_the_upload_kept_and_the_repo_private(env, hub, chutes, bundle):
    chutes.fail("POST", "^/images/$", 400, body={"detail": "Build failed: pip could not install onnxruntime"})
    r = tvkit(env, *push_args(bundle, "--no-commit"))
    assert r.returncode == 2, r.stderr
    assert "stopped at step 'build'" in r.stderr and "Build failed" in r.stderr
    revision = hub.repos[REPO_ID]["branches"]["main"]
    assert f"done: checks, upload (revision {revision}), render" in r.stderr
    assert "stays private" in r.stderr and f"next: `tvkit push --revision {revision} --element {ELEMENT}" in r.stderr
    assert hub.repos[REPO_ID]["private"] is True and not chutes.seen("POST", "^/chutes/$")
    assert not chutes.seen("POST", "/secrets/")
    assert ledger(env)[-1]["status"] == "failed at build"


def test_warmup_never_hot_stops_then_the_printed_command_resumes_with_the_same_chute(env, hub, chutes, bundle):
    chutes.never_hot = True
    r = tvkit(env, *push_args(bundle, "--no-commit", "--warmup-seconds", "3"))
    assert r.returncode == 2 and "stopped at step 'warmup'" in r.stderr and "not hot after 3 s" in r.stderr
    assert "done: checks, upload" in r.stderr and "secret" in r.stderr and hub.repos[REPO_ID]["private"] is True
    assert not chutes.seen("POST", "/health$")
    resume = r.stderr.split("next: `")[1].split("`")[0]
    assert resume.startswith("tvkit push --revision ")
    chutes.never_hot = False
    r = tvkit(env, *resume.split()[1:], "--manifest", "example", "--no-commit")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "reusing it" in r.stderr and "was already set" in r.stderr
    assert len(chutes.seen("POST", "^/chutes/$")) == 1 and chutes.seen("GET", "^/chutes/code/")
    assert hub.repos[REPO_ID]["private"] is True
    assert [e["status"] for e in ledger(env)] == ["failed at warmup", "deployed"]


def test_chutes_hf_token_must_be_a_separate_read_only_token(env, hub, chutes, bundle):
    r = tvkit({**env, "CHUTES_HF_TOKEN": HF_TOKEN}, *push_args(bundle, "--no-commit"))
    assert r.returncode == 2 and "CHUTES_HF_TOKEN is your write token" in r.stderr
    r = tvkit({**env, "CHUTES_HF_TOKEN": HF_WRITE_TOKEN_2}, *push_args(bundle, "--no-commit"))
    assert r.returncode == 2 and "CHUTES_HF_TOKEN can write (role write)" in r.stderr
    assert not hub.seen("POST") and not chutes.requests


def test_push_with_a_non_developer_chutes_key(env, hub, chutes, bundle):
    r = tvkit({**env, "CHUTES_API_KEY": NODEV_KEY}, *push_args(bundle, "--no-commit"))
    assert r.returncode != 0 and "HTTP 401" in r.stderr and "developer" in r.stderr
    assert "stopped at step 'build'" in r.stderr and hub.repos[REPO_ID]["private"] is True


def test_push_hub_rate_limit_says_how_long_to_wait(env, hub, chutes, bundle):
    hub.fail("POST", "/commit/main$", 429, headers={"Retry-After": "1800"},
             body={"error": "You have exceeded our hourly quotas for action: commit"})
    r = tvkit(env, *push_args(bundle, "--no-deploy"))
    assert r.returncode != 0 and "rate limit" in r.stderr and "30 min" in r.stderr
    assert "Nothing was committed" in r.stderr and "stopped at step 'upload'" in r.stderr and chutes.requests == []


def test_push_with_a_read_only_or_unknown_hf_token(env, hub, bundle):
    r = tvkit({**env, "HF_TOKEN": HF_READ_TOKEN}, *push_args(bundle, "--no-deploy"))
    assert r.returncode != 0 and "HTTP 403" in r.stderr and "read-only" in r.stderr
    r = tvkit({**env, "HF_TOKEN": "hf_" + "z" * 34}, *push_args(bundle, "--no-deploy"))
    assert r.returncode != 0 and "HTTP 401" in r.stderr and "write token" in r.stderr
    assert not hub.repos


def test_push_of_a_revision_that_does_not_exist(env, hub, chutes, bundle):
    r = tvkit(env, *push_args(bundle, "--no-deploy"))
    assert r.returncode == 0, r.stderr
    assert "stays private" in r.stdout and hub.repos[REPO_ID]["private"] is True
    r = tvkit(env, "push", "--revision", "deadbeefcafe", "--element", ELEMENT, "--manifest", "example",
              "--no-deploy")
    assert r.returncode == 2 and "has no revision 'deadbeefcafe'" in r.stderr and not chutes.requests


# --- no credentials: every command names what is missing and how to get it ---------------------

@pytest.mark.parametrize("args,needs", [
    (["push", "--bundle", "nowhere", "--element", ELEMENT, "--manifest", "example"],
     ["HF_USER", "HF_TOKEN", "CHUTES_API_KEY", "CHUTES_USERNAME", "CHUTES_HF_TOKEN", "BITTENSOR_WALLET_COLD"]),
    (["push", "--revision", "abc1234", "--no-deploy", "--element", ELEMENT, "--manifest", "example"],
     ["HF_TOKEN", "HF_USER"]),
    (["publish", "--yes"], ["HF_USER", "HF_TOKEN"]),
    (["chute-slug", "--revision", "abc1234"], ["CHUTES_API_KEY", "HF_USER"]),
    (["chutes-list"], ["CHUTES_API_KEY"]),
    (["ping-chute", "--revision", "abc1234"], ["CHUTES_API_KEY", "HF_USER"]),
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
