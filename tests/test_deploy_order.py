"""The order of a push's calls across the Hub, Chutes and the chain, and a failed commit.

In process: `kit.deploy.push.push` against the stand-ins (real HTTP, the real `chutes` CLI for
build and deploy); the chain is out of reach, so the commit goes to a committer that takes a
number from the stand-ins' shared sequence (and can refuse), which orders it among the requests.
"""

import pytest

from kit.deploy.commitment import CommitError

from standins.base import next_seq
from standins.chutes_api import ChutesStandIn, User
from standins.deploy_env import CHUTES_KEY, ELEMENT, HF_READ_TOKEN, HF_TOKEN, keypair, settings_env
from standins.hub import HubStandIn
from standins.tiny_bundle import tiny_bundle

REPO_ID = "hfminer/ScoreVision"


class Chain:
    """Records commitments in the stand-ins' sequence; refuses while `refuse` is set."""

    def __init__(self):
        self.commits: list[tuple[int, dict]] = []
        self.refuse: str | None = None

    def __call__(self, s, payload):
        if self.refuse:
            raise CommitError(self.refuse)
        self.commits.append((next_seq(), dict(payload)))
        return f"committed on subnet {s.netuid} (stand-in)"


@pytest.fixture
def world(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    hotkey = keypair()
    hub = HubStandIn(write_tokens=[HF_TOKEN], read_tokens=[HF_READ_TOKEN]).start()
    chutes = ChutesStandIn([User("miner-one", CHUTES_KEY, hotkey[1])], hf_read_tokens=[HF_READ_TOKEN]).start()
    env = settings_env(tmp_path, hub, chutes, hotkey)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from kit.settings import load_settings

    yield {"hub": hub, "chutes": chutes, "s": load_settings(env_file=tmp_path / "none", environ=env),
           "bundle": tiny_bundle(tmp_path / "bundle"), "hotkey": hotkey[1], "lines": []}
    hub.stop()
    chutes.stop()


def run_push(w, chain, bundle=True, revision=None):
    from kit.deploy.push import push
    from kit.manifest import example_manifest

    return push(w["bundle"] if bundle else None, ELEMENT, revision, s=w["s"], manifest=example_manifest(),
                committer=chain, echo=w["lines"].append, health_attempts=2, health_delay=0.1, warmup_seconds=10)


def first(stand, method, pattern, body=None):
    hits = [q for q in stand.seen(method, pattern) if body is None or body(q)]
    assert hits, f"no {method} {pattern}"
    return hits[0].seq


def test_private_upload_then_secret_warmup_health_commit_and_only_then_public(world):
    hub, chutes, chain = world["hub"], world["chutes"], Chain()
    r = run_push(world, chain)
    assert r.committed and r.public and r.done[-2:] == ["commit", "publish"]
    private = first(hub, "PUT", "/settings$", lambda q: q.json() == {"visibility": "private"})
    upload = first(hub, "POST", "/commit/main$")
    secret = first(chutes, "POST", "^/secrets/$")
    warmup = first(chutes, "GET", "/warmup/")
    health = first(chutes, "POST", "/health$")
    (commit_seq, payload), = chain.commits
    public = first(hub, "PUT", "/settings$", lambda q: q.json() == {"visibility": "public"})
    build = first(chutes, "POST", "^/images/$")
    deploy = first(chutes, "POST", "^/chutes/$")
    assert private < upload < build < deploy < secret < warmup < health < commit_seq < public
    assert hub.visibility_log == [(REPO_ID, "private"), (REPO_ID, "public")]
    assert payload == {"role": "miner", "model": REPO_ID, "revision": r.revision, "chute_id": r.chute_id,
                       "slug": r.slug, "hotkey": world["hotkey"], "element_id": ELEMENT}
    assert [ln for ln in world["lines"] if ln.startswith("[")] == [f"[{i}/10] {s}" for i, s in enumerate(
        ["checks", "upload", "render", "build", "deploy", "secret", "warmup", "health", "commit", "publish"], 1)]


def test_a_failed_commit_leaves_the_repo_private_and_the_printed_command_finishes_it(world):
    from kit.deploy import ledger
    from kit.deploy.push import PushFailed

    hub, chutes, chain = world["hub"], world["chutes"], Chain()
    chain.refuse = "the chain did not take the commitment (SubstrateRequestException: Priority is too low)"
    with pytest.raises(PushFailed) as e:
        run_push(world, chain)
    msg = str(e.value)
    assert e.value.step == "commit" and "Priority is too low" in msg
    assert "done: checks, upload (revision" in msg and "secret, warmup, health" in msg
    assert f"the Hugging Face repo {REPO_ID} stays private" in msg
    revision = e.value.result.revision
    assert f"next: `tvkit push --revision {revision} --element {ELEMENT}" in msg
    assert hub.repos[REPO_ID]["private"] is True and hub.visibility_log == [(REPO_ID, "private")]
    assert not chain.commits
    assert all(q.json() == {"visibility": "private"} for q in hub.seen("PUT", "/settings$"))
    last = ledger.read()[-1]
    assert last["status"] == "failed at commit" and last["public"] is False and last["committed"] is False
    assert last["commitment"]["element_id"] == ELEMENT

    # the printed command: the revision on the Hub, the chute reused (same code), committed, then public
    chain.refuse = None
    r = run_push(world, chain, bundle=False, revision=revision)
    assert r.committed and r.public and r.revision == revision
    assert len(chutes.seen("POST", "^/chutes/$")) == 1 and len(chutes.seen("POST", "^/images/$")) == 1
    assert any("reusing it" in ln for ln in world["lines"]) and any("was already set" in ln for ln in world["lines"])
    assert hub.visibility_log[-1] == (REPO_ID, "public")
    assert [e["status"] for e in ledger.read()] == ["failed at commit", "public"]


def test_a_chute_that_cannot_read_the_private_repo_is_never_committed(world):
    from kit.deploy.push import PushFailed

    world["chutes"].hf_read_tokens = {"hf_" + "q" * 34}  # the chute's HF_TOKEN secret cannot read the repo
    chain = Chain()
    with pytest.raises(PushFailed) as e:
        run_push(world, chain)
    assert e.value.step == "health" and "Failed to load miner" in str(e.value)
    assert "HF_TOKEN cannot read the repo" in str(e.value)
    assert not chain.commits and world["hub"].repos[REPO_ID]["private"] is True
