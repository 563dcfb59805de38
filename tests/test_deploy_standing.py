"""`tvkit standing` against the public lists served on 127.0.0.1, commitments from the ledger;
settings and doctor with today's credential names."""
import json
import os

import pytest

from kit import KitError

from standins.deploy_env import HF_READ_TOKEN, HF_TOKEN, tvkit
from standins.lists import ListsStandIn

HK = "5F" + "a" * 46
OTHER = "5G" + "b" * 46
REV = "c" * 40


def push_entry(element, block=None, hotkey=HK, committed=True, revision=REV):
    commitment = {"role": "miner", "model": "hfminer/ScoreVision", "revision": revision, "chute_id": f"id-{element}",
                  "slug": "miner-one-turbovision-hfminer-otter", "hotkey": hotkey}
    if element:
        commitment["element_id"] = element
    entry = {"time": "2026-11-29T00:00:00", "event": "push", "revision": revision, "element_id": element,
             "commitment": commitment, "committed": committed, "public": committed, "status": "public"}
    if block is not None:
        entry["commit_block"] = block
    return entry


def failing_row(element, block, status, hotkey=HK, run_key="manako/compliances/runs/000000123.json"):
    return {"hotkey": hotkey, "element_id": element, "commit_block": block, "first_seen": 1.0, "last_seen": 2.0,
            "latest_status": status, "latest_run_key": run_key, "latest_run_url": "https://example.test/run.json"}


@pytest.fixture
def lists():
    s = ListsStandIn(
        failing=[failing_row("PlayerDetect_v1@1.0", 700, "FAIL_LATENCY"),
                 failing_row("DetectBall_v1@1.0", 701, "FAIL_OUTPUT", run_key=""),  # unattributed: ignored
                 failing_row("PlayerDetect_v1@1.0", 702, "FAIL_OUTPUT", hotkey=OTHER)],
        inactive=[{"hotkey": HK, "element_id": "PitchCalib_v1@1.0", "commit_block": 650}, ["x", "y", "not a block"]],
        blacklist=f"# Add one hotkey per line.\n{OTHER}\n").start()
    yield s
    s.stop()


def settings_for(lists, tmp_path, **extra):
    from kit.settings import load_settings

    return load_settings(env_file=tmp_path / "none", environ={**lists.urls(), **extra})


def test_parsers_follow_upstream():
    from kit.deploy.standing import parse_blacklist, parse_tuples

    rows, ignored = parse_tuples({"tuples": [failing_row("A@1", 5, "FAIL_RUNTIME"),
                                             failing_row("B@1", 6, "X", run_key=""),
                                             ["hk", "C@1", "7"], {"hotkey": "hk", "element": "D@1", "block": 8,
                                                                  "latest_run_key": "k"}]}, "compliance")
    assert [(r["element_id"], r["commit_block"]) for r in rows] == [("A@1", 5), ("C@1", 7), ("D@1", 8)]
    assert ignored == 1
    rows, _ = parse_tuples([{"hotkey": "hk", "element_id": "E@1", "commit_block": -1},
                            {"hotkey": "hk", "element_id": "E@1", "commit_block": "9"}], "inactive")
    assert [r["commit_block"] for r in rows] == [9]
    assert parse_tuples({"tuples": [["hk", "E@1", 1]]}, "inactive") == ([], 0)  # upstream reads a list only
    assert parse_blacklist("# c\n\n 5Abc \n5Def\n") == [{"hotkey": "5Abc"}, {"hotkey": "5Def"}]
    assert parse_blacklist('[{"hotkey": "5Abc", "reason": "image_unavailable"}, "5Def"]') == [
        {"hotkey": "5Abc", "reason": "image_unavailable"}, {"hotkey": "5Def"}]


def test_standing_from_the_ledger_with_blocks_known_and_unknown(lists, tmp_path):
    from kit.deploy.standing import standing

    s = settings_for(lists, tmp_path)
    entries = [push_entry("PlayerDetect_v1@1.0", revision="1" * 40),      # an older commit of the same element
               push_entry("PlayerDetect_v1@1.0", block=700),              # the latest: listed at its block
               push_entry("DetectBall_v1@1.0", block=701),                # its row has no run key: not listed
               push_entry("PitchCalib_v1@1.0"),                           # inactive at some block: maybe
               push_entry("Other_v1@1.0", committed=False),               # --no-commit: not on chain
               push_entry(None)]                                          # no element_id: no registry reads it
    report = standing(HK, s=s, source="ledger", entries=entries)
    assert report.source == "ledger" and "ledger" in report.source_detail
    verdicts = {e.element_id: e.verdict for e in report.elements}
    assert verdicts == {"PlayerDetect_v1@1.0": "NOT COUNTED", "DetectBall_v1@1.0": "OK", "PitchCalib_v1@1.0": "CHECK"}
    player = {f.list: f for f in report.elements[0].findings}
    assert player["compliance"].status == "listed" and "FAIL_LATENCY" in player["compliance"].reason
    assert "a later checker run whose p95 passes lifts it" in player["compliance"].clears
    assert player["inactive"].status == "clear" and player["blacklist"].status == "clear"
    pitch = {f.list: f for f in report.elements[2].findings}
    assert pitch["inactive"].status == "maybe" and "listed at block 650" in pitch["inactive"].reason
    assert "every one scored 0" in pitch["inactive"].reason and "never comes off" in pitch["inactive"].clears
    assert len(report.unscoped) == 1 and report.lists["compliance"].ignored == 1
    text = report.format()
    assert "PlayerDetect_v1@1.0: NOT COUNTED" in text and "what clears it:" in text
    assert "no element's registry reads a commitment without element_id" in text
    assert json.loads(json.dumps(report.to_dict()))["elements"][0]["lists"]["compliance"]["status"] == "listed"


def test_a_blacklisted_hotkey_counts_nowhere_and_an_unreadable_list_is_unknown(lists, tmp_path):
    from kit.deploy.standing import standing

    s = settings_for(lists, tmp_path, TVKIT_INACTIVE_MINERS_URL=lists.url + "/nowhere.json")
    report = standing(OTHER, s=s, source="ledger", entries=[push_entry("PlayerDetect_v1@1.0", block=702,
                                                                       hotkey=OTHER)])
    (el,) = report.elements
    found = {f.list: f for f in el.findings}
    assert found["blacklist"].status == "listed" and "only the subnet owners" in found["blacklist"].clears
    assert found["compliance"].status == "listed" and "FAIL_OUTPUT" in found["compliance"].reason
    assert found["inactive"].status == "unknown" and "HTTP 404" in found["inactive"].reason
    assert el.verdict == "NOT COUNTED"
    assert "inactive   " in report.format() and "unreadable (HTTP 404)" in report.format()


def test_standing_without_a_hotkey_says_how_to_give_one(lists, tmp_path):
    from kit.deploy.standing import standing

    with pytest.raises(KitError, match="--hotkey"):
        standing(None, s=settings_for(lists, tmp_path), source="ledger", entries=[])
    with pytest.raises(KitError, match="needs bittensor"):
        standing(HK, s=settings_for(lists, tmp_path), source="chain", entries=[])


def test_tvkit_standing_reads_the_ledger_and_says_so(lists, tmp_path):
    dep = tmp_path / "deployments"
    dep.mkdir()
    (dep / "ledger.jsonl").write_text("\n".join(json.dumps(e) for e in [
        push_entry("PlayerDetect_v1@1.0", block=700), push_entry("DetectBall_v1@1.0")]) + "\n")
    env = {**os.environ, **lists.urls(), "TVKIT_DEPLOYMENTS_DIR": str(dep), "HOME": str(tmp_path),
           "BITTENSOR_WALLET_COLD": "", "BITTENSOR_WALLET_HOT": ""}
    r = tvkit(env, "standing", "--json", cwd=tmp_path)  # no wallet: the ledger's latest commitment's hotkey
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["hotkey"] == HK and out["source"] == "ledger" and "bittensor is not installed" in out["source_detail"]
    assert {e["element_id"]: e["verdict"] for e in out["elements"]} == {"PlayerDetect_v1@1.0": "NOT COUNTED",
                                                                        "DetectBall_v1@1.0": "OK"}
    r = tvkit(env, "standing", "--hotkey", OTHER, cwd=tmp_path)
    assert r.returncode == 0 and "no commitments for this hotkey in the ledger" in r.stdout
    r = tvkit(env, "standing", "--source", "chain", cwd=tmp_path)
    assert r.returncode == 2 and "pip install bittensor" in r.stderr


# --- settings and doctor: today's names --------------------------------------------------------------

def test_settings_read_todays_names(tmp_path):
    from kit.settings import load_settings

    s = load_settings(env_file=tmp_path / "none", environ={"CHUTES_HF_TOKEN": HF_READ_TOKEN, "HF_TOKEN": HF_TOKEN,
                                                            "SCOREVISION_NETUID": "423"})
    assert s.chutes_hf_token.reveal() == HF_READ_TOKEN and s.netuid == 423 and HF_READ_TOKEN not in repr(s)
    assert s.failing_tuples_url == "https://conformity.scoredata.me/compliance/failing_tuples.json"
    assert s.missing("CHUTES_HF_TOKEN", "HF_USER") == ["HF_USER"]
    assert load_settings(env_file=tmp_path / "none", environ={}).netuid == 44
    with pytest.raises(KitError, match="SCOREVISION_NETUID='mainnet'"):
        load_settings(env_file=tmp_path / "none", environ={"SCOREVISION_NETUID": "mainnet"})


@pytest.mark.parametrize("read_token,ok", [(HF_READ_TOKEN, True), (HF_TOKEN, False), ("", False)])
def test_doctor_checks_that_chutes_hf_token_is_not_the_write_token(tmp_path, read_token, ok):
    env = {**os.environ, "HOME": str(tmp_path), "HF_TOKEN": HF_TOKEN, "CHUTES_HF_TOKEN": read_token,
           "HF_USER": "hfminer", "SCOREVISION_NETUID": "423"}
    r = tvkit(env, "doctor", "--json", cwd=tmp_path)
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["HF tokens separate"]["ok"] is ok
    if read_token == HF_TOKEN:
        assert "same token as HF_TOKEN" in checks["HF tokens separate"]["detail"]
    assert checks["CHUTES_HF_TOKEN"]["ok"] is bool(read_token)
    assert "423" in checks["SCOREVISION_NETUID"]["detail"] and "not 44" in checks["SCOREVISION_NETUID"]["detail"]


def test_notebook_06_shows_the_standing_from_the_ledger(lists, tmp_path, monkeypatch):
    import papermill as pm

    from conftest import REPO

    dep = tmp_path / "deployments"
    dep.mkdir()
    (dep / "ledger.jsonl").write_text("\n".join(json.dumps(e) for e in [
        push_entry("PlayerDetect_v1@1.0", block=700), push_entry("DetectBall_v1@1.0", block=5)]) + "\n")
    for k, v in {**lists.urls(), "TVKIT_DEPLOYMENTS_DIR": str(dep), "CHUTES_API_KEY": "", "BITTENSOR_WALLET_COLD": "",
                 "BITTENSOR_WALLET_HOT": ""}.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "06.ipynb"
    pm.execute_notebook(str(REPO / "notebooks" / "06_maintain.ipynb"), str(out), cwd=str(tmp_path),
                        parameters={"live": True, "run_dir": str(tmp_path / "run"),
                                    "metrics_path": str(tmp_path / "metrics.json")}, progress_bar=False)
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    text = "".join("".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "") for o in outputs)
    assert "commitments read from the ledger" in text and "PlayerDetect_v1@1.0: NOT COUNTED" in text
    assert "DetectBall_v1@1.0: OK" in text and "what clears it:" in text
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["standing"] == {"PlayerDetect_v1@1.0": "NOT COUNTED", "DetectBall_v1@1.0": "OK"}
