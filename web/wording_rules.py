"""The charging rules' reasons (schedules, prices, plans, users, the external limit) in English
and German; merged into web/wording.py's catalogue. Times (`until`, `start`, `deadline`) are
epoch seconds shown as local HH:MM; `mode` is a charging mode, worded by `mode.<value>`."""

from __future__ import annotations

from collections.abc import Mapping

EN_RULES: Mapping[str, str] = {
    "grid_limit": "limited by the grid operator until {until}",
    "grid_limit.full": "grid operator's limit reached",
    "schedule": "schedule: {mode} until {until}",
    "cheap_price": "cheap price window until {until}",
    "plan_missing": "plan mode without a plan (energy and time): charging now",
    "plan_done": "plan met: the energy is in",
    "plan_overdue": "plan past its time: charging now",
    "plan_charging": "plan: charging until {until}",
    "plan_solar": "plan: solar charging until {until}",
    "plan_waiting": "plan: starts at {start}, done by {deadline}",
    "plan_waiting_no_forecast": (
        "plan: starts at {start}, done by {deadline} (no solar forecast: planned on prices)"
    ),
    "user_mode": "user {user} allows only {mode}",
    "user_max": "user {user} allows at most {amps} A",
    "limit_banner": "Charging limited to {kw} kW until {until}",
    "plan_line": "Plan: {start} to {end}, ready by {deadline}",
    "plan_line_nothing": "Plan: nothing left to charge before {deadline}",
    "mode.off": "off",
    "mode.now": "now",
    "mode.minpv": "min+solar",
    "mode.pv": "solar",
    "mode.plan": "plan",
}

DE_RULES: Mapping[str, str] = {
    "grid_limit": "vom Netzbetreiber begrenzt bis {until}",
    "grid_limit.full": "Grenze des Netzbetreibers erreicht",
    "schedule": "Zeitplan: {mode} bis {until}",
    "cheap_price": "günstiges Preisfenster bis {until}",
    "plan_missing": "Planmodus ohne Plan (Energie und Zeit): lädt sofort",
    "plan_done": "Plan erfüllt: die Energie ist geladen",
    "plan_overdue": "Planzeit überschritten: lädt sofort",
    "plan_charging": "Plan: lädt bis {until}",
    "plan_solar": "Plan: lädt mit Sonne bis {until}",
    "plan_waiting": "Plan: Start um {start}, fertig bis {deadline}",
    "plan_waiting_no_forecast": (
        "Plan: Start um {start}, fertig bis {deadline} (keine Solarprognose: nach Preisen geplant)"
    ),
    "user_mode": "Nutzer {user} erlaubt nur {mode}",
    "user_max": "Nutzer {user} erlaubt höchstens {amps} A",
    "limit_banner": "Laden begrenzt auf {kw} kW bis {until}",
    "plan_line": "Plan: {start} bis {end}, fertig bis {deadline}",
    "plan_line_nothing": "Plan: vor {deadline} ist nichts mehr zu laden",
    "mode.off": "Aus",
    "mode.now": "Sofort",
    "mode.minpv": "Min+Sonne",
    "mode.pv": "Sonne",
    "mode.plan": "Plan",
}
