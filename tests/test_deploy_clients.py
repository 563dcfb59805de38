"""The Chutes API client, the Hub client, retries and the ledger, in process against the stand-ins."""
import time

import pytest

from kit import KitError
from kit.deploy import ledger
from kit.deploy.chutes_api import ChuteNotFound, ChutesAPI, ChutesAPIError
from kit.deploy.retry import Backoff, RateLimited, retry_after_seconds
from kit.settings import Secret

from standins.chutes_api import ChutesStandIn, User
from standins.hub import HubStandIn

KEY = "cpk_" + "k" * 40
NODEV = "cpk_" + "d" * 40
TOKEN = "hf_" + "t" * 34


class Sleeps(list):
    """Records the waits instead of sleeping them (the servers are real; only time is skipped)."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def chutes():
    s = ChutesStandIn([User("miner-one", KEY), User("plain", NODEV, developer=False)]).start()
    yield s
    s.stop()


@pytest.fixture
def sleeps():
    return Sleeps()


def api(stand, sleeps, key=KEY, **kw):
    return ChutesAPI(stand.url, Secret(key), backoff=Backoff(attempts=4, base=0.5, sleep=sleeps, **kw), timeout=5)


def add_chute(stand, name="turbovision-a-b-c", user=0):
    stand.chutes[name] = {"id": name + "-id", "name": name, "user_id": stand.users[user].user_id, "slug": "s-" + name,
                          "hot": True, "image": {"id": "img", "name": name, "tag": "t", "status": "built and pushed",
                                                 "created_at": ""}, "created_at": "", "instances": ["i-1"]}


def test_chutes_api_sends_the_key_as_bearer_and_lists(chutes, sleeps):
    add_chute(chutes)
    with api(chutes, sleeps) as c:
        items = c.list_chutes(limit=7)
    assert [i["name"] for i in items] == ["turbovision-a-b-c"]
    (req,) = chutes.requests
    assert req.path == "/chutes/" and req.headers["authorization"] == f"Bearer {KEY}"
    assert req.query == {"limit": ["7"], "page": ["0"], "include_public": ["false"]}
    assert sleeps == []


def test_chutes_api_unknown_key_and_non_developer_key(chutes, sleeps):
    with api(chutes, sleeps, key="cpk_" + "z" * 40) as c, pytest.raises(ChutesAPIError) as e:
        c.list_chutes()
    assert e.value.status == 401 and "chutes keys create --name tvkit --admin" in str(e.value)
    with api(chutes, sleeps, key=NODEV) as c, pytest.raises(ChutesAPIError) as e:
        c.get_chute("anything")
    assert e.value.status == 401 and "developer access required" in str(e.value) and "developer" in str(e.value)


def test_chutes_api_404_is_chute_not_found(chutes, sleeps):
    with api(chutes, sleeps) as c:
        with pytest.raises(ChuteNotFound):
            c.get_chute("turbovision-nope")
        assert c.find_chute("turbovision-nope") is None


def test_chutes_api_honours_retry_after_on_429_then_succeeds(chutes, sleeps):
    add_chute(chutes)
    chutes.fail("GET", "^/chutes/turbovision-a-b-c$", 429, times=2, headers={"Retry-After": "3"})
    with api(chutes, sleeps) as c:
        assert c.get_chute("turbovision-a-b-c")["slug"] == "s-turbovision-a-b-c"
    assert sleeps == [3.0, 3.0] and len(chutes.requests) == 3


def test_chutes_api_backs_off_on_5xx_then_succeeds(chutes, sleeps):
    add_chute(chutes)
    chutes.fail("GET", "^/chutes/$", 503, times=2)
    with api(chutes, sleeps) as c:
        assert len(c.list_chutes()) == 1
    assert sleeps == [0.5, 1.0] and len(chutes.requests) == 3


def test_chutes_api_gives_up_after_the_attempts_with_the_status(chutes, sleeps):
    chutes.fail("GET", "^/chutes/$", 502, times=10)
    with api(chutes, sleeps) as c, pytest.raises(ChutesAPIError) as e:
        c.list_chutes()
    assert e.value.status == 502 and len(chutes.requests) == 4 and sleeps == [0.5, 1.0, 2.0]


def test_chutes_api_a_long_retry_after_is_reported_not_slept(chutes, sleeps):
    chutes.fail("DELETE", "^/chutes/", 429, headers={"Retry-After": "3600"})
    with api(chutes, sleeps) as c, pytest.raises(RateLimited) as e:
        c.delete_chute("x")
    assert e.value.seconds == 3600 and "60 min" in str(e.value) and sleeps == []


def test_chutes_api_unreachable_and_409(sleeps):
    c = ChutesAPI("http://127.0.0.1:9", Secret(KEY), backoff=Backoff(attempts=2, base=0.01, sleep=sleeps), timeout=2)
    with pytest.raises(ChutesAPIError) as e:
        c.list_chutes()
    assert "cannot reach http://127.0.0.1:9/chutes/" in str(e.value) and "CHUTES_API_URL" in str(e.value)
    assert len(sleeps) == 1  # a connection error is retried too
    with pytest.raises(ChutesAPIError, match="no CHUTES_API_KEY"):
        ChutesAPI("http://127.0.0.1:9", None)


def test_chutes_api_409_conflict(chutes, sleeps):
    chutes.fail("DELETE", "^/images/", 409, body={"detail": "image is in use by a chute"})
    with api(chutes, sleeps) as c, pytest.raises(ChutesAPIError) as e:
        c.delete_image("img")
    assert e.value.status == 409 and "image is in use by a chute" in str(e.value)


def test_chutes_api_streams_warmup_and_logs(chutes, sleeps):
    add_chute(chutes)
    chutes.instance_log_lines["i-1"] = ["one", "two", "three"]
    with api(chutes, sleeps) as c:
        assert [e["status"] for e in c.warmup("turbovision-a-b-c", seconds=5)] == ["cold", "warming", "hot"]
        assert list(c.instance_logs("i-1", backfill=2, seconds=5)) == ["two", "three"]
        with pytest.raises(ChuteNotFound):
            list(c.instance_logs("i-404", seconds=5))


# --- the Hub client ---------------------------------------------------------------------------

@pytest.fixture
def hub_client(monkeypatch):
    """huggingface_hub reads HF_HUB_OFFLINE (set by conftest) and the Xet switch at import: turn them."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    stand = HubStandIn(write_tokens=[TOKEN]).start()
    yield stand
    stand.stop()


def small_bundle(tmp_path):
    b = tmp_path / "b"
    b.mkdir()
    (b / "miner.py").write_text("class Miner: ...\n")
    (b / "weights.onnx").write_bytes(bytes(range(256)) * 8)
    (b / "__pycache__").mkdir()
    (b / "__pycache__" / "miner.cpython-311.pyc").write_bytes(b"\0")
    return b


def test_hub_publish_retries_429_and_5xx_then_commits_once(hub_client, tmp_path):
    from kit.deploy.hub import Hub

    sleeps = Sleeps()
    hub_client.fail("POST", "/api/repos/create", 500)
    hub_client.fail("POST", "/commit/main$", 429, headers={"Retry-After": "2"})
    hub = Hub(hub_client.url, Secret(TOKEN), backoff=Backoff(base=0.25, sleep=sleeps))
    rev = hub.publish("me/turbovision-miner", small_bundle(tmp_path), "m")
    assert sleeps == [0.25, 2.0]
    assert len(hub_client.seen("POST", "/commit/main$")) == 2 and hub_client.repos["me/turbovision-miner"]["private"]
    files = hub_client.files_at("me/turbovision-miner", rev)
    assert set(files) == {".gitattributes", "miner.py", "weights.onnx"}  # no __pycache__
    assert hub.resolve("me/turbovision-miner", rev[:10]) == rev


def test_hub_errors_say_what_to_do(hub_client, tmp_path):
    from kit.deploy.hub import Hub, HubError

    sleeps = Sleeps()
    hub = Hub(hub_client.url, Secret(TOKEN), backoff=Backoff(sleep=sleeps))
    with pytest.raises(HubError) as e:
        hub.resolve("me/missing", "main")
    assert e.value.status == 404 and "not found" in str(e.value)
    hub.publish("me/repo", small_bundle(tmp_path), "m")
    with pytest.raises(HubError) as e:
        hub.resolve("me/repo", "v9")
    assert e.value.status == 404 and "has no revision 'v9'" in str(e.value)
    hub_client.fail("POST", "/api/repos/create", 429, headers={"Retry-After": "7200"})
    with pytest.raises(HubError) as e:
        hub.publish("me/repo", tmp_path / "b", "m")
    assert e.value.status == 429 and "2.0 h" in str(e.value) and sleeps == []
    with pytest.raises(HubError, match="no HF_TOKEN"):
        Hub(hub_client.url, None)


def test_hub_refuses_to_run_offline(monkeypatch):
    from huggingface_hub import constants

    from kit.deploy.hub import Hub, HubError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        Hub("http://127.0.0.1:9", Secret(TOKEN))


# --- retry helper, ledger ------------------------------------------------------------------------

def test_retry_after_parses_seconds_and_dates():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(1_000_000_060))
    assert retry_after_seconds(when, now=1_000_000_000) == pytest.approx(60.0)


def test_ledger_appends_reads_and_refuses_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("TVKIT_DEPLOYMENTS_DIR", str(tmp_path))
    for i, rev in enumerate(("a" * 40, "b" * 40, "c" * 40)):
        ledger.append("push", {"revision": rev, "chute_name": f"n{i}", "deployed": True})
    ledger.append("test", {"revision": "b" * 40, "final": 0.5, "seconds": 2.0})
    ledger.append("delete", {"revision": "a" * 40})
    entries = ledger.read()
    assert [e["event"] for e in entries] == ["push", "push", "push", "test", "delete"]
    assert ledger.by_revision(entries)["b" * 40]["tests"][0]["final"] == 0.5
    assert ledger.stale_revisions(entries, keep=1) == ["b" * 40]
    with pytest.raises(KitError, match="secret"):
        ledger.append("push", {"note": "hf_" + "s" * 30})
    assert len(ledger.read()) == 5
    (tmp_path / "ledger.jsonl").open("a").write("not json\n")
    assert len(ledger.read()) == 5


def test_plan_push_without_credentials_names_what_is_missing(tmp_path):
    from kit.deploy.push import PUSH_STEPS, plan_push
    from kit.manifest import example_manifest
    from kit.settings import load_settings

    s = load_settings(env_file=tmp_path / "none", environ={"HF_ENDPOINT": "http://hub.test",
                                                            "CHUTES_API_URL": "http://chutes.test"})
    plan = plan_push(s, element_id="DetectBall_v1@1.0", manifest=example_manifest())
    assert plan.missing == ["HF_USER", "HF_TOKEN", "CHUTES_API_KEY", "CHUTES_USERNAME", "CHUTES_HF_TOKEN",
                            "BITTENSOR_WALLET_COLD", "BITTENSOR_WALLET_HOT"]
    assert [st.name for st in plan.steps] == list(PUSH_STEPS)
    text = plan.format()
    assert "POST http://hub.test/api/repos/create" in text and "POST http://chutes.test/secrets/" in text
    assert '"element_id": "DetectBall_v1@1.0"' in text and "EXAMPLE manifest" in text
    rev = "ab" * 20
    plan = plan_push(s, revision=rev, element_id="DetectBall_v1@1.0", deploy=False)
    assert [st.name for st in plan.steps] == ["checks", "upload"] and plan.commitment is None
    assert f"GET http://hub.test/api/models/<HF_USER>/ScoreVision/revision/{rev}" in plan.format()
    assert plan.missing == ["HF_USER", "HF_TOKEN"]
    with pytest.raises(KitError, match="did you mean 'DetectBall_v1@1.0'"):
        plan_push(s, element_id="DetectBall_v1@1.1", manifest=example_manifest())


def test_resolve_element_checks_the_manifest_or_asks():
    from kit.deploy.push import resolve_element
    from kit.manifest import example_manifest

    m = example_manifest()
    assert resolve_element("PitchCalib_v1@1.0", m) == "PitchCalib_v1@1.0"
    assert resolve_element("Anything@9", None) == "Anything@9"  # no manifest: used as given, as upstream does
    asked = []
    assert resolve_element(None, m, lambda ids: asked.append(ids) or ids[1]) == "DetectBall_v1@1.0"
    assert asked == [m.ids]
    with pytest.raises(KitError) as e:
        resolve_element(None, m)
    assert all(i in str(e.value) for i in m.ids) and "--element ID" in str(e.value)


# --- secrets, health, warmup, visibility, what a token may do ------------------------------------------

def test_chutes_api_sets_a_secret_once_and_never_echoes_it(chutes, sleeps):
    add_chute(chutes)
    value = Secret("hf_" + "v" * 34)
    with api(chutes, sleeps) as c:
        assert c.create_secret("turbovision-a-b-c-id", "HF_TOKEN", value) == "created"
        assert c.create_secret("turbovision-a-b-c-id", "HF_TOKEN", value) == "exists"
        chutes.fail("POST", "^/secrets/$", 422, body={"detail": f"bad value {value.reveal()}"})
        with pytest.raises(ChutesAPIError) as e:
            c.create_secret("turbovision-a-b-c-id", "HF_TOKEN", value)
    assert e.value.status == 422 and value.reveal() not in str(e.value) and "***" in str(e.value)
    assert chutes.secrets == {("turbovision-a-b-c-id", "HF_TOKEN"): value.reveal()}
    assert chutes.seen("POST", "^/secrets/$")[0].json() == {"purpose": "turbovision-a-b-c-id", "key": "HF_TOKEN",
                                                            "value": value.reveal()}


def test_chutes_api_health_waits_for_healthy_and_says_the_last_answer(chutes, sleeps):
    add_chute(chutes)
    chutes.chutes["turbovision-a-b-c"]["hot"] = False
    chutes.hf_read_tokens = {"hf_" + "g" * 34}
    base = f"{chutes.url}/run/s-turbovision-a-b-c"
    with api(chutes, sleeps) as c:
        with pytest.raises(ChutesAPIError) as e:
            c.health(base, attempts=3, delay=0.5, sleep=sleeps)
        assert "never answered healthy in 3 tries" in str(e.value) and "HTTP 503" in str(e.value)
        assert sleeps == [0.5, 0.5]
        chutes.chutes["turbovision-a-b-c"]["hot"] = True
        with pytest.raises(ChutesAPIError, match="no HF_TOKEN secret"):
            c.health(base, attempts=1, sleep=sleeps)
        c.create_secret("turbovision-a-b-c-id", "HF_TOKEN", Secret("hf_" + "g" * 34))
        assert c.health(base, attempts=1, sleep=sleeps)["status"] == "healthy"
    polls = chutes.seen("POST", "/health$")
    assert len(polls) == 5 and all(q.json() == {} and q.headers["authorization"] == f"Bearer {KEY}" for q in polls)


def test_chutes_api_warm_until_hot_or_gives_up(chutes, sleeps):
    add_chute(chutes)
    lines = []
    with api(chutes, sleeps) as c:
        assert c.warm_until_hot("turbovision-a-b-c", seconds=5, echo=lines.append) == "hot"
        assert lines[-1].startswith("[hot]")
        chutes.never_hot = True
        assert c.warm_until_hot("turbovision-a-b-c", seconds=1.5) == "warming"
    assert len(chutes.seen("GET", "/warmup/")) >= 2


def test_hub_visibility_and_token_access(hub_client, tmp_path):
    from kit.deploy.hub import Hub, HubError, token_access

    hub_client.read_tokens.add("hf_" + "r" * 34)
    hub_client.fine_grained.update({"hf_" + "f" * 34: ["repo.content.read"], "hf_" + "g" * 34: ["repo.write"]})
    hub = Hub(hub_client.url, Secret(TOKEN))
    hub.publish("hfminer/ScoreVision", small_bundle(tmp_path), "m")
    assert hub.is_private("hfminer/ScoreVision")
    hub.set_visibility("hfminer/ScoreVision", private=False)
    assert not hub.is_private("hfminer/ScoreVision")
    hub.ensure_repo("hfminer/ScoreVision")  # an existing public repo is made private again before an upload
    assert hub_client.visibility_log == [("hfminer/ScoreVision", v) for v in ("private", "public", "private")]
    assert token_access(hub_client.url, Secret(TOKEN))["can_write"] is True
    assert token_access(hub_client.url, Secret("hf_" + "r" * 34)) | {"scopes": []} == {
        "name": "hfminer", "role": "read", "can_write": False, "scopes": []}
    assert token_access(hub_client.url, Secret("hf_" + "f" * 34))["can_write"] is False
    assert token_access(hub_client.url, Secret("hf_" + "g" * 34))["can_write"] is True
    with pytest.raises(HubError, match="refused CHUTES_HF_TOKEN"):
        token_access(hub_client.url, Secret("hf_" + "u" * 34))


def test_revision_rows_and_figure_from_the_ledger(tmp_path):
    from kit.deploy.ops import revision_figure, revision_rows

    entries = [{"event": "push", "revision": "a" * 40, "chute_name": "n-a", "deployed": True},
               {"event": "test", "revision": "a" * 40, "final": 0.4, "seconds": 3.0},
               {"event": "test", "revision": "a" * 40, "final": 0.6, "seconds": 5.0},
               {"event": "push", "revision": "b" * 40, "chute_name": "n-b", "deployed": True},
               {"event": "delete", "revision": "b" * 40}]
    rows = revision_rows(entries)
    assert [(r["tests"], r["last_final"], r["best_final"], r["median_seconds"], r["deleted"]) for r in rows] == [
        (2, 0.6, 0.6, 4.0, False), (0, None, None, None, True)]
    fig = revision_figure(entries, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_ylabel() == "final score"
    empty = revision_figure([], tmp_path / "e.png")
    assert "no chute tested yet" in empty.axes[0].texts[0].get_text()


def test_plan_push_shows_the_whole_repo_against_the_elements_cap(tmp_path):
    from kit.deploy.push import plan_push
    from kit.manifest import example_manifest
    from kit.settings import load_settings

    s = load_settings(env_file=tmp_path / "none", environ={})
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "miner.py").write_text("x = 1\n")
    (bundle / "model.onnx").write_bytes(b"\0" * (2 ** 20))
    man = example_manifest()
    note = next(n for n in plan_push(s, str(bundle), "kit-example/Detect-fire", manifest=man).notes if "MiB" in n)
    assert "1.00 MiB of the element's 30 MiB cap" in note and note.endswith("fits")
    man.element("kit-example/Detect-fire").max_model_size_mb = 0.5
    note = next(n for n in plan_push(s, str(bundle), "kit-example/Detect-fire", manifest=man).notes if "MiB" in n)
    assert "OVER" in note
