"""The sessions part of the facade: the session list with running sessions as the tiles show
them, its CSV, and each wallbox's decision timeline from the history store.

A mixin of manager.service.Service, kept apart so each file stays about one thing; it uses the
facade's control loop (the live state), session store and history.
"""

from __future__ import annotations

from typing import Any

from manager.history import History
from manager.session_live import with_live
from manager.timeline import DecisionTimeline


class SessionsFacade:
    control: Any
    sessions: Any
    _history: History

    def list_sessions(
        self,
        since: str | None = None,
        until: str | None = None,
        evse: str | None = None,
        user: str | None = None,
    ) -> list[dict[str, Any]]:
        """Stored sessions, running ones with their energy and duration so far."""
        if self.sessions is None:
            return []
        rows = self.sessions.list(since=since, until=until, evse=evse, user=user)
        return with_live(rows, self.control.snapshot().evses)

    def sessions_csv(self, **filters: str | None) -> str:
        rows = self.list_sessions(**filters)
        if self.sessions is None:
            return ""
        return str(self.sessions.to_csv(rows))

    def decisions(self, evse: str | None = None) -> list[DecisionTimeline]:
        """Per wallbox, the last 24 h of setpoint, draw and reason bands."""
        return self._history.decisions(evse)
