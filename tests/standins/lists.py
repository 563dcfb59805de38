"""The subnet's public lists, served as their publishers serve them (plain GETs, no auth).

  GET /compliance/failing_tuples.json   the compliance checker's rows {hotkey, element_id, commit_block,
                                        first_seen, last_seen, latest_status, latest_run_key, latest_run_url}
                                        (upstream validator/audit/open_source/compliance.py:201-245)
  GET /manako/inactive_miners.json      [{hotkey, element_id, commit_block}] (cloudflare_helpers.py:1102)
  GET /blacklist                        the repository's file: one hotkey per line, '#' comments

Point the kit at it with SCOREVISION_FAILING_TUPLES_URL, TVKIT_INACTIVE_MINERS_URL, TVKIT_BLACKLIST_URL
(`urls()` gives all three).
"""

from __future__ import annotations

from .base import StandIn


class ListsStandIn(StandIn):
    routes = [
        ("GET", r"/compliance/failing_tuples\.json", "failing"),
        ("GET", r"/manako/inactive_miners\.json", "inactive"),
        ("GET", r"/blacklist", "blacklist"),
    ]

    def __init__(self, failing=None, inactive=None, blacklist: str = "# Add one hotkey per line.\n"):
        super().__init__()
        self.failing_rows = list(failing or [])
        self.inactive_rows = list(inactive or [])
        self.blacklist_text = blacklist

    def urls(self) -> dict[str, str]:
        return {"SCOREVISION_FAILING_TUPLES_URL": f"{self.url}/compliance/failing_tuples.json",
                "TVKIT_INACTIVE_MINERS_URL": f"{self.url}/manako/inactive_miners.json",
                "TVKIT_BLACKLIST_URL": f"{self.url}/blacklist"}

    def failing(self, seen, m):
        return 200, self.failing_rows, {}

    def inactive(self, seen, m):
        return 200, self.inactive_rows, {}

    def blacklist(self, seen, m):
        return 200, self.blacklist_text, {"Content-Type": "text/plain"}
