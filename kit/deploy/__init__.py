"""Ship and operate: Hugging Face and Chutes API clients, push, the deployments ledger, commands.

- `hub.py`: the Hugging Face side through `huggingface_hub.HfApi` (private repo, one commit per
  push, revisions checked to exist), with clear errors for bad tokens and the upload rate limit.
- `chutes_api.py`: the Chutes management API over httpx (list, get, delete, warmup, instance
  logs), `Authorization: Bearer <CHUTES_API_KEY>`, timeouts, retries on 429 and 5xx.
- `chutes_cli.py`: the real `chutes build` / `chutes deploy` as subprocesses (they sign with
  the hotkey of `~/.chutes/config.ini`), prompts answered without a terminal.
- `push.py`: bundle check -> upload -> render -> build -> deploy -> resolve -> commitment,
  and `plan_push`, the same steps as a list of the calls it would make.
- `ledger.py`: `deployments/ledger.jsonl`, one line per push, test and delete; never a secret.
- `ops.py`: list, test and delete revisions; the per-revision score/latency table and plot (notebook 06).
- `retry.py`, `common.py`: backoff with Retry-After; credentials checks, where the records live.
- `cli.py`: the `tvkit` commands.
"""
