import io
import logging
import pickle

import pytest

from kit import settings as s

FAKE_KEY = "cpk_" + "FAKEfakeFAKEfake.0123456789abcdef"
FAKE_HF = "hf_" + "FakeTokenForTestsOnly0123456789ab"


def test_env_file_then_environment(tmp_path):
    env = tmp_path / ".env"
    env.write_text(f"CHUTES_API_KEY={FAKE_KEY}\nHF_USER=from-file\nCHUTES_USERNAME=alice\n")
    st = s.load_settings(env, environ={"HF_USER": "from-env", "HF_TOKEN": FAKE_HF})
    assert st.hf_user == "from-env"            # the environment wins
    assert st.chutes_username == "alice"
    assert st.chutes_api_key.reveal() == FAKE_KEY
    assert st.hf_token.reveal() == FAKE_HF
    assert st.env_file == env
    assert st.missing("HF_USER", "BITTENSOR_WALLET_COLD") == ["BITTENSOR_WALLET_COLD"]


def test_env_file_does_not_leak_into_os_environ(tmp_path, monkeypatch):
    monkeypatch.delenv("CHUTES_USERNAME", raising=False)
    env = tmp_path / ".env"
    env.write_text("CHUTES_USERNAME=bob\n")
    s.load_settings(env, environ={})
    import os
    assert "CHUTES_USERNAME" not in os.environ


def test_secret_never_shows_itself():
    sec = s.Secret(FAKE_KEY)
    st = s.Settings(chutes_api_key=sec)
    for text in (str(sec), repr(sec), f"{sec}", repr(st), str(st)):
        assert FAKE_KEY not in text
    with pytest.raises(TypeError):
        pickle.dumps(sec)


def test_wallet_paths(tmp_path):
    st = s.load_settings(tmp_path / "none.env", environ={
        "BITTENSOR_WALLET_COLD": "cold", "BITTENSOR_WALLET_HOT": "hot", "BITTENSOR_WALLET_PATH": str(tmp_path)})
    assert st.hotkey_file == tmp_path / "cold" / "hotkeys" / "hot"
    assert st.coldkeypub_file == tmp_path / "cold" / "coldkeypub.txt"


def test_redact_known_environment_and_shaped_secrets(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "s3cr3t-value-xyz")
    s.register_secrets("registered-secret-42")
    text = f"a {FAKE_KEY} b {FAKE_HF} c s3cr3t-value-xyz d registered-secret-42 e"
    out = s.redact(text)
    for secret in (FAKE_KEY, FAKE_HF, "s3cr3t-value-xyz", "registered-secret-42"):
        assert secret not in out
    assert out.startswith("a *** b *** c *** d *** e")


def test_short_values_are_not_masked(monkeypatch):
    monkeypatch.setenv("SOME_KEY", "abc")  # too short to be a credential; would mask words
    assert s.redact("abc def") == "abc def"


def test_redacting_stream_catches_split_writes(monkeypatch):
    monkeypatch.setenv("CHUTES_API_KEY", FAKE_KEY)
    sink = io.StringIO()
    stream = s.RedactingStream(sink)
    stream.write("key=" + FAKE_KEY[:10])
    stream.write(FAKE_KEY[10:] + "\nnext ")
    stream.flush()
    assert FAKE_KEY not in sink.getvalue() and sink.getvalue() == "key=***\nnext "


def test_logging_is_redacted(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_HF)
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.addFilter(s.RedactingFilter())
    log = logging.getLogger("kit.test")
    log.addHandler(handler)
    try:
        log.warning("token is %s", FAKE_HF)
    finally:
        log.removeHandler(handler)
    assert FAKE_HF not in sink.getvalue() and "token is ***" in sink.getvalue()
