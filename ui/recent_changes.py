"""The Statistics page's "Changes in the last 30 days": changes by user and by action (small
charts) and the latest ten changes, from the history (ctm.history)."""

from __future__ import annotations

import altair as alt
import streamlit as st
from sqlalchemy.engine import Engine

from ctm import history as hist
from ctm.db import Identity
from ui.feedback import service_errors

DAYS = 30
LATEST = 10


@st.cache_data(ttl=60, show_spinner=False)
def _summary(_engine: Engine, identity: Identity) -> hist.ChangeSummary:
    return hist.change_summary(_engine, identity, days=DAYS, latest=LATEST)


def recent_changes_section(engine: Engine, identity: Identity) -> None:
    st.subheader(f"Changes in the last {DAYS} days")
    with service_errors(stop=False):
        summary = _summary(engine, identity)
        st.caption(
            f"{summary.total:,} change(s) to mappings, customers, substations, circuits and meters"
            " — see Data Maintenance → History for every detail."
        )
        if summary.total:
            charts = st.columns(2)
            charts[0].altair_chart(
                alt.Chart(summary.by_user, title="Changes by user")
                .mark_bar()
                .encode(
                    x=alt.X("changes:Q", title=None),
                    y=alt.Y("user:N", sort="-x", title=None),
                    tooltip=["user:N", alt.Tooltip("changes:Q", format=",d")],
                )
                .properties(height=alt.Step(22)),
                width="stretch",
            )
            charts[1].altair_chart(
                alt.Chart(summary.by_action, title="Changes by action")
                .mark_bar()
                .encode(
                    x=alt.X("changes:Q", title=None),
                    y=alt.Y("action:N", sort=list(hist.ACTION_LABELS.values()), title=None),
                    tooltip=["action:N", alt.Tooltip("changes:Q", format=",d")],
                )
                .properties(height=alt.Step(22)),
                width="stretch",
            )
        st.markdown(f"**Latest {LATEST} changes**")
        if summary.latest.empty:
            st.info("No changes recorded yet.")
        else:
            st.dataframe(
                summary.latest.assign(changed_at=summary.latest["changed_at"].dt.tz_convert("UTC")),
                column_order=(
                    "changed_at",
                    "changed_by_name",
                    "kind",
                    "action_label",
                    "subject",
                    "changes",
                ),
                column_config={
                    "changed_at": st.column_config.DatetimeColumn(
                        "When (UTC)", format="YYYY-MM-DD HH:mm"
                    ),
                    "changed_by_name": "Who",
                    "kind": "What",
                    "action_label": "Action",
                    "subject": "Row",
                    "changes": "What changed",
                },
                hide_index=True,
                width="stretch",
                key="latest_changes",
            )
