"""Manifests and elements: the validator's validation, gates and RTF, the example, files, the
public index (served here by a local HTTP server on 127.0.0.1), cache and offline behaviour."""
import functools
import http.server
import json
import subprocess
import threading

import pytest
import yaml

from kit.manifest import (
    EXAMPLE_MANIFEST_YAML,
    Element,
    ManifestError,
    category_of,
    example_manifest,
    load_manifest,
    parse_manifest,
    pick_for_block,
    pull_manifest,
)

from conftest import REFERENCE, TVKIT

UPSTREAM = REFERENCE / "validator-ea7412f"


def doc(**element):
    e = {"id": "PlayerDetect_v1@1.0", "objects": ["player"], "metrics": {"pillars": {"iou": 1.0}}, **element}
    return {"window_id": "w", "version": 1.3, "expiry_block": 100, "tee": {"trusted_share_gamma": 0.2},
            "elements": [e]}


# --- the example and upstream's fixtures ---------------------------------------------------------------

def test_example_is_labelled_and_has_three_football_elements_and_one_detect_element():
    m = load_manifest()
    assert m.example and "EXAMPLE" in m.describe() and "EXAMPLE" in EXAMPLE_MANIFEST_YAML
    assert m.ids == ["PlayerDetect_v1@1.0", "DetectBall_v1@1.0", "PitchCalib_v1@1.0", "kit-example/Detect-fire"]
    assert [m.element(i).category for i in m.ids] == ["PlayerDetect", "Detect", "PitchCalib", "Detect"]
    assert [m.element(i).kind for i in m.ids] == ["clip", "clip", "clip", "image"]
    assert m.element("PlayerDetect_v1@1.0").objects == ["ball", "goalkeeper", "player", "referee"]
    assert m.element("DetectBall_v1@1.0").objects == ["ball"]
    assert m.element("PitchCalib_v1@1.0").keypoint_template == "football"
    for e in m.elements:
        assert sum(e.pillars.values()) == 1.0 and not e.unscored_pillars()


def test_upstreams_recent_manifest_loads():
    m = load_manifest(UPSTREAM / "full_private_tcg_manifest.json")
    e = m.element("manak0/Detect-fire")
    assert e.category == "Detect" and e.objects == ["fire", "smoke", "fire extinguisher"]
    assert e.pillars == {"map50": 0.6, "false_positive": 0.4}
    assert e.targets == {"map50": 0.9, "false_positive": 0.9} and e.baselines["false_positive"] == 0.4
    assert (e.latency_p95_ms, e.service_rate_fps, e.max_model_size_mb, e.challenge_type_id) == (100, 1, 30, 100)
    assert e.ground_truth is True and e.track == "public"
    private = m.element("manako/TCGGrading")
    assert private.track == "private" and private.pillars == {"tcg_grading": 1.0}


def test_the_examples_detect_element_carries_upstreams_fire_values():
    """kit-example/Detect-fire is upstream's manak0/Detect-fire (fixture at ea7412f) under the kit's own id."""
    ours = example_manifest().element("kit-example/Detect-fire").to_dict()
    theirs = load_manifest(UPSTREAM / "full_private_tcg_manifest.json").element("manak0/Detect-fire").to_dict()
    for d in (ours, theirs):
        d.pop("id"), d.pop("weight")   # the kit's id; the fixture's emission weight (0.04) is the chain's business
    assert ours == theirs
    assert ours["baseline_theta"] == 0.3932593937991298 and ours["kind"] == "image"
    assert "An EXAMPLE Detect element" in EXAMPLE_MANIFEST_YAML


def test_upstreams_example_manifest_is_refused_with_the_reason():
    with pytest.raises(ManifestError) as e:
        load_manifest(UPSTREAM / "example_manifest.yml")
    msg = str(e.value)
    assert "BallDetect_v1@1.0" in msg and "PlayerDetect" in msg and "category" in msg
    lenient = load_manifest(UPSTREAM / "example_manifest.yml", strict=False)
    assert lenient.ids == ["PlayerDetect_v1@1.0", "BallDetect_v1@1.0"] and len(lenient.problems) == 1
    assert lenient.element("PlayerDetect_v1@1.0").pillars["iou"] == 0.35


# --- validation ------------------------------------------------------------------------------------

def test_weights_must_sum_to_exactly_one_in_floating_point():
    ok = doc(metrics={"pillars": {"iou": 0.35, "count": 0.2, "smoothness": 0.15, "map50": 0.3}})
    parse_manifest(ok)
    with pytest.raises(ManifestError, match=r"1\.0000000000000002"):
        parse_manifest(doc(metrics={"pillars": {"iou": 0.4, "count": 0.2, "smoothness": 0.1, "map50": 0.2,
                                                 "false_positive": 0.1}}))


def test_unknown_pillars_fields_and_templates():
    with pytest.raises(ManifestError, match="did you mean 'palette'"):
        parse_manifest(doc(metrics={"pillars": {"pallette": 1.0}}))
    with pytest.raises(ManifestError, match="keypoint_template"):
        parse_manifest(doc(keypoint_template="footbal"))
    with pytest.raises(ManifestError, match="delta_floor: must be >= 0"):
        parse_manifest(doc(delta_floor=-0.1))
    with pytest.raises(ManifestError, match="tee"):
        parse_manifest({k: v for k, v in doc().items() if k != "tee"})
    # keys the validator does not read are ignored
    assert parse_manifest(doc(dataset={"type": "x"}, salt={"offsets": [1]})).ids == ["PlayerDetect_v1@1.0"]


@pytest.mark.parametrize("eid, category", [("PlayerDetect_v1@1.0", "PlayerDetect"), ("Detect-fire", "Detect"),
                                           ("manak0/Detect-fire", "Detect"), ("PitchCalib_v1", "PitchCalib"),
                                           ("ns/", None), ("BallDetect_v1@1.0", None), ("x/BallDetect", None)])
def test_category_from_the_id(eid, category):
    assert category_of(eid) == category


def test_private_elements_need_no_category():
    m = parse_manifest(doc(id="ActionSpot_v1", track="private"))
    assert m.elements[0].track == "private"


def test_unknown_element_has_a_did_you_mean():
    with pytest.raises(ManifestError, match="did you mean 'PitchCalib_v1@1.0'"):
        example_manifest().element("PitchCalib_v2@1.0")


# --- gates and RTF (upstream tests/utils/test_element.py) ------------------------------------------

@pytest.fixture
def el():
    return Element("PlayerDetect_v1@1.0", pillars={"iou": 1.0}, baseline_theta=0.3, delta_floor=0.05, beta=1.0,
                   service_rate_fps=30)


@pytest.mark.parametrize("score, gate, improvement, weighted", [(0.1, 0.0, 0.05, 0.05), (0.3, 0.0, 0.05, 0.05),
                                                                (0.5, 0.2, 0.2, 0.2)])
def test_gates(el, score, gate, improvement, weighted):
    assert el.apply_baseline_gate(score) == gate
    assert el.improvement(score) == improvement
    assert el.weight_score(score) == weighted


def test_gate_extremes(el):
    assert el.weight_score(-0.5) == el.delta_floor
    el.beta = 1.5
    assert el.apply_difficulty_weight(0.2) == pytest.approx(0.3)
    el.beta, el.delta_floor = 0.0, 0.0
    assert el.weight_score(0.9) == 0.0 and el.improvement(0.0) == 0.0


def test_rtf_divides_by_10000_as_the_code_does(el):
    # upstream rtf.py:28 -- its docstring says / 1000; the code (and so the kit) says / 10000
    assert el.rtf(200) == pytest.approx(200 / 10000 * 30 / 5)
    el.service_rate_fps = 25
    assert el.rtf(2000) == pytest.approx(1.0) and el.rtf(2001) > 1.0
    assert Element("Detect-x", pillars={"iou": 1.0}).rtf(5000) is None


# --- the public index ---------------------------------------------------------------------------------

def test_pick_for_block():
    urls = ["https://e.com/manifest/100-a.yaml", "https://e.com/manifest/250-b.yaml", "https://e.com/manifest/180-c.yaml"]
    assert pick_for_block(urls, None) == (250, "https://e.com/manifest/250-b.yaml")
    assert pick_for_block(urls, 200) == (180, "https://e.com/manifest/180-c.yaml")
    assert pick_for_block(urls, 50) == (250, "https://e.com/manifest/250-b.yaml")   # none that early: the latest
    assert pick_for_block(["https://e.com/manifest/index.json"], 5) is None


@pytest.fixture
def index_server(tmp_path):
    """A static server on 127.0.0.1 holding manifest/index.json and two manifests, as the public bucket does."""
    root = tmp_path / "bucket"
    (root / "manifest").mkdir(parents=True)
    early = yaml.safe_load(EXAMPLE_MANIFEST_YAML)
    early["window_id"] = "early"
    late = json.loads(json.dumps(early))
    late["window_id"] = "late"
    (root / "manifest" / "100-aaaa.yaml").write_text(yaml.safe_dump(early))
    (root / "manifest" / "200-bbbb.yaml").write_text(yaml.safe_dump(late))
    (root / "manifest" / "index.json").write_text(json.dumps(["./manifest/100-aaaa.yaml", " manifest/200-bbbb.yaml "]))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/manifest/index.json", srv
    srv.shutdown()
    srv.server_close()


def test_pull_picks_by_block_and_caches(index_server, tmp_path):
    url, srv = index_server
    cache = tmp_path / "cache"
    assert pull_manifest(url, block=150, cache=cache).window_id == "early"
    m = pull_manifest(url, cache=cache)
    assert m.window_id == "late" and m.block == 200 and not m.example and url.rsplit("/", 1)[0] in m.source
    assert len(list(cache.glob("*.yaml"))) == 2 and len(list(cache.glob("*.json"))) == 1
    srv.shutdown()
    srv.server_close()
    offline = pull_manifest(url, block=150, cache=cache)   # the server is gone: the cached index and files
    assert offline.window_id == "early" and "offline" in offline.source


def test_offline_with_nothing_cached_says_what_to_do(tmp_path):
    with pytest.raises(ManifestError, match="Offline\\? Use the kit's example manifest"):
        pull_manifest("http://127.0.0.1:9/manifest/index.json", cache=tmp_path / "c", timeout=2)


def test_expired_manifest_is_refused(index_server, tmp_path):
    url, _ = index_server
    with pytest.raises(ManifestError, match="expired"):
        pull_manifest(url, block=10**10, cache=tmp_path / "c")


def test_live_source_uses_the_env_url(index_server, tmp_path, monkeypatch):
    url, _ = index_server
    monkeypatch.setenv("TVKIT_MANIFEST_INDEX_URL", url)
    monkeypatch.setenv("TVKIT_CACHE_DIR", str(tmp_path / "c"))
    assert load_manifest("live", block=120).window_id == "early"


# --- the commands -------------------------------------------------------------------------------------

def test_elements_list_and_manifest_show(tmp_path):
    out = subprocess.run([TVKIT, "elements", "list"], capture_output=True, text=True, check=True).stdout
    assert "PlayerDetect_v1@1.0" in out and "iou 0.3" in out and "200 ms" in out and "EXAMPLE" in out
    fire = out[out.index("kit-example/Detect-fire"):]
    assert "kind image" in fire and "objects: fire, smoke, fire extinguisher" in fire
    assert "latency p95 100 ms (compliance CPU budget 110 ms)" in fire and "model size <= 30 MB" in fire
    assert "kind clip" in out[:out.index("kit-example/Detect-fire")]
    r = subprocess.run([TVKIT, "manifest", "show", "--manifest", str(UPSTREAM / "example_manifest.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "WOULD REFUSE" in r.stdout and "BallDetect_v1@1.0" in r.stdout
    js = json.loads(subprocess.run([TVKIT, "elements", "list", "--manifest",
                                    str(UPSTREAM / "full_private_tcg_manifest.json"), "--json"],
                                   capture_output=True, text=True, check=True).stdout)
    assert "manak0/Detect-crime" in [e["id"] for e in js["elements"]]
    r = subprocess.run([TVKIT, "elements", "list", "--manifest", str(tmp_path / "nope.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no such manifest file" in r.stderr
