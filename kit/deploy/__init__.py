"""Ship and operate: Hugging Face and Chutes API clients, push, commitments, standing, the ledger, commands.

Usage: `tvkit push --bundle DIR --element ID`, `tvkit standing`; or `kit.deploy.push.push(...)`.

- `hub.py`: the Hugging Face side through `huggingface_hub.HfApi` (private repo, one commit per
  push, visibility changes, what a token may do), with clear errors for bad tokens and the
  upload rate limit.
- `chutes_api.py`: the Chutes management API over httpx (chutes, code, secrets, warmup, health,
  instance logs), `Authorization: Bearer <CHUTES_API_KEY>`, timeouts, retries on 429 and 5xx.
- `chutes_cli.py`: the real `chutes build` / `chutes deploy` as subprocesses (they sign with
  the hotkey of `~/.chutes/config.ini`), prompts answered without a terminal.
- `push.py`: checks -> private upload -> official chute -> build -> deploy -> secret -> warmup
  -> health -> commitment -> public, upstream's `sv deploy-os-miner` order; `plan_push`.
- `commitment.py`: the commitment payload, committing it with bittensor, reading it back.
- `standing.py`: commitments per element against the compliance, inactive and blacklist lists.
- `ledger.py`: `deployments/ledger.jsonl`, one line per push, test, publish and delete; never a secret.
- `ops.py`: find a revision's chute, list, test and delete revisions; the per-revision score/latency
  table and plot (notebook 06).
- `retry.py`, `common.py`: backoff with Retry-After; credentials checks, the Chutes client, where
  the records live.
- `cli.py`: the `tvkit` commands.
"""
