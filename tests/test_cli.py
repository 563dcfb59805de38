import json
import os
import subprocess

import numpy as np

from conftest import TVKIT

FAKE = {
    "CHUTES_API_KEY": "cpk_" + "TESTONLY7f3a9c1e5b2d4f6a8c0e.abcdefabcdef",
    "HF_TOKEN": "hf_" + "TESTONLYxYzAbCdEfGhIjKlMnOpQrStUv",
}


def tvkit(*args, env=None, cwd=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([TVKIT, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def assert_no_secret(*texts):
    for t in texts:
        for v in FAKE.values():
            assert v not in t


def test_doctor_reports_credentials_without_showing_them(tmp_path):
    env = {**FAKE, "CHUTES_USERNAME": "miner-one", "HF_USER": "hfminer"}
    r = tvkit("doctor", env=env, cwd=tmp_path)
    assert_no_secret(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = {ln.split()[1]: ln for ln in r.stdout.splitlines() if ln.startswith("[")and len(ln.split()) > 1}
    assert "[ok]" in lines["CHUTES_API_KEY"] and " set" in lines["CHUTES_API_KEY"]
    assert "set to miner-one" in lines["CHUTES_USERNAME"]
    assert "essentials OK" in r.stdout


def test_doctor_deploy_fails_without_credentials_and_says_what_to_do(tmp_path):
    env = {k: "" for k in ("CHUTES_API_KEY", "HF_TOKEN", "HF_USER", "CHUTES_USERNAME",
                           "BITTENSOR_WALLET_COLD", "BITTENSOR_WALLET_HOT")}
    env["HOME"] = str(tmp_path)
    r = tvkit("doctor", "--deploy", "--json", env=env, cwd=tmp_path)
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert report["essentials_ok"] is False
    failed = {c["name"]: c for c in report["checks"] if c["status"] == "FAIL"}
    assert "HF_TOKEN" in failed and "huggingface.co/settings/tokens" in failed["HF_TOKEN"]["fix"]
    assert "btcli subnet register --netuid 44" in failed["wallet files"]["fix"]
    assert "chutes register" in failed["chutes config"]["fix"]


def test_doctor_finds_wallet_files(tmp_path):
    hot = tmp_path / "w" / "cold" / "hotkeys"
    hot.mkdir(parents=True)
    (hot / "hot").write_text("{}")
    (tmp_path / "w" / "cold" / "coldkeypub.txt").write_text("{}")
    env = {"BITTENSOR_WALLET_COLD": "cold", "BITTENSOR_WALLET_HOT": "hot",
           "BITTENSOR_WALLET_PATH": str(tmp_path / "w")}
    r = tvkit("doctor", "--json", env=env, cwd=tmp_path)
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["wallet files"]["ok"] is True


def test_secrets_from_dotenv_are_redacted_in_output(tmp_path):
    # a secret that only the .env file knows, echoed back through an error message
    secret = "cpk_" + "DOTENVONLY0123456789abcdef.zzzz"
    (tmp_path / ".env").write_text(f"CHUTES_API_KEY={secret}\n")
    answer = tmp_path / f"{secret}.json"
    r = tvkit("validate", "--answer", str(answer), "--n-frames", "1", "--width", "2", "--height", "2", cwd=tmp_path)
    assert r.returncode == 2
    assert "no such file" in r.stderr and secret not in r.stderr and "***" in r.stderr


def write_answer(path, n=3, bad=False):
    frames = [{"frame_id": i, "boxes": [], "keypoints": [[0, 0]] * (31 if bad and i == 1 else 32)} for i in range(n)]
    path.write_text(json.dumps({"success": True, "predictions": {"frames": frames}, "error": None}))
    return path


def test_validate_good_and_bad(tmp_path):
    good = write_answer(tmp_path / "good.json")
    r = tvkit("validate", "--answer", str(good), "--n-frames", "3", "--width", "960", "--height", "540")
    assert r.returncode == 0 and "OK against 3 frames of 960 x 540" in r.stdout
    bad = write_answer(tmp_path / "bad.json", bad=True)
    r = tvkit("validate", "--answer", str(bad), "--n-frames", "4", "--width", "960", "--height", "540", "--json")
    assert r.returncode == 1
    rep = json.loads(r.stdout)
    msgs = {(p["frame"], p["path"]) for p in rep["problems"]}
    assert (1, "predictions.frames[1].keypoints") in msgs and (None, "predictions.frames") in msgs


def test_validate_reads_frame_count_from_video(tmp_path):
    import cv2

    video = tmp_path / "clip.mp4"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for i in range(5):
        vw.write(np.full((48, 64, 3), i * 40, np.uint8))
    vw.release()
    ans = write_answer(tmp_path / "a.json", n=5)
    r = tvkit("validate", "--answer", str(ans), "--video", str(video))
    assert r.returncode == 0 and "5 frames of 64 x 48" in r.stdout
    r = tvkit("validate", "--answer", str(ans), "--video", str(tmp_path / "nope.mp4"))
    assert r.returncode == 2 and "OpenCV cannot open this video" in r.stderr


def test_validate_needs_geometry(tmp_path):
    ans = write_answer(tmp_path / "a.json")
    r = tvkit("validate", "--answer", str(ans))
    assert r.returncode == 2 and "give --video" in r.stderr


def test_template_command(tmp_path):
    import cv2

    out = tmp_path / "t.png"
    r = tvkit("template", "--numbered", "--scale", "0.5", "--out", str(out))
    assert r.returncode == 0 and out.is_file()
    assert cv2.imread(str(out)).shape == (370, 555, 3)


def test_run_rejects_secret_parameters():
    r = tvkit("run", "--only", "00", "-p", "hf_token=abc")
    assert r.returncode == 2 and "never from run parameters" in r.stderr


def test_run_unknown_notebook():
    r = tvkit("run", "--only", "42")
    assert r.returncode == 2 and "no such notebook" in r.stderr


def test_help_lists_commands():
    r = tvkit("--help")
    for cmd in ("doctor", "template", "validate", "run", "runs"):
        assert cmd in r.stdout


def test_help_ends_with_numbered_examples():
    r = tvkit("-h")
    tail = r.stdout.split("examples:", 1)[1]
    assert r.returncode == 0 and "  1. tvkit doctor" in tail and " 12. " in tail


def test_unknown_command_and_option_get_a_did_you_mean():
    r = tvkit("evalute")
    assert r.returncode == 2 and "invalid choice: 'evalute'" in r.stderr and "did you mean evaluate?" in r.stderr
    r = tvkit("synth", "--frmaes", "3")
    assert r.returncode == 2 and "did you mean --frames?" in r.stderr


def test_old_names_are_hidden_aliases_that_say_the_new_one(tmp_path):
    ans = write_answer(tmp_path / "a.json")
    r = tvkit("validate", "--predictions", str(ans), "--n-frames", "3", "--width", "960", "--height", "540")
    assert r.returncode == 0 and "OK against 3 frames" in r.stdout
    assert "--predictions is now --answer" in r.stderr
    assert "--predictions" not in tvkit("validate", "-h").stdout and "--answer" in tvkit("validate", "-h").stdout
    r = tvkit("dataset", "build", "--clips", str(tmp_path / "none"), "--out", str(tmp_path / "ds"))
    assert "--clips is now --clips-dir" in r.stderr and r.returncode == 2  # then the folder is checked


def test_command_defaults_come_from_the_table():
    from kit.cli import build_parser
    from kit.defaults import default

    args = build_parser().parse_args(["synth"])
    assert (args.clips, args.frames, args.width, args.height) == tuple(
        default(k) for k in ("clips", "frames", "width", "height"))
    args = build_parser().parse_args(["dataset", "build", "--clips-dir", "c", "--out", "o"])
    assert (args.stride, args.teams) == (default("stride"), default("teams"))


def test_unknown_profile_and_parameter_get_a_did_you_mean():
    r = tvkit("run", "--profile", "smok", "--only", "00")
    assert r.returncode == 2 and "did you mean smoke?" in r.stderr
    r = tvkit("run", "--only", "00", "-p", "deploy_check=true")
    assert r.returncode == 2 and "did you mean deploy_checks?" in r.stderr
    r = tvkit("run", "--only", "0")
    assert r.returncode == 2 and "no such notebook" in r.stderr and "did you mean" in r.stderr
