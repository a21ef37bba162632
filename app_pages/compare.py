"""Compare runs: filter the stored runs, tick some, see how their settings differ and their curves."""

import pandas as pd
import streamlit as st

from core.results import runs_table, settings_diff
from core.store import RunStore, StoreError
from core.viz_results import accuracy_curves_figure

st.title("Compare runs")

try:
    store = RunStore()
    runs = store.list_runs(limit=1000)
except StoreError as err:
    st.error(f"Run store unavailable — {err}")
    st.stop()
if not runs:
    st.info("No runs yet. Train a few on the **Train** page (or `python -m core train ...`), then compare them here.",
            icon=":material/model_training:")
    st.stop()

table = pd.DataFrame(runs_table(runs))
f1, f2, f3 = st.columns(3)
models = f1.multiselect("Model", sorted(table["model"].dropna().unique()), key="f_model", placeholder="all models")
statuses = f2.multiselect("Status", sorted(table["status"].dropna().unique()), key="f_status",
                          placeholder="all statuses")
datas = f3.multiselect("Data", sorted(table["data"].dropna().unique()), key="f_data", placeholder="all data sets")
shown = table
for column, chosen in (("model", models), ("status", statuses), ("data", datas)):
    if chosen:
        shown = shown[shown[column].isin(chosen)]
shown = shown.reset_index(drop=True)

st.caption(f"{len(shown)} of {len(table)} runs · tick rows to compare them.")
event = st.dataframe(
    shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="runs_table",
    column_config={"test accuracy": st.column_config.NumberColumn(format="percent"),
                   "images/s": st.column_config.NumberColumn(format="%.0f"),
                   "parameters": st.column_config.NumberColumn(format="localized")})
rows = [r for r in (event.selection.rows if event else []) if r < len(shown)]
picked_ids = [int(shown.loc[r, "run"]) for r in rows]
by_id = {r["id"]: r for r in runs}
picked = [by_id[i] for i in picked_ids if i in by_id]

if picked:
    st.subheader(f"{len(picked)} selected run{'s' if len(picked) > 1 else ''}")
    diff = settings_diff(picked)
    if len(picked) >= 2 and not diff:
        st.success("These runs have identical settings (they differ only by chance, if at all).")
    elif diff:
        st.markdown("**Settings that differ**" if len(picked) >= 2 else "**Settings**")
        st.dataframe(pd.DataFrame(diff).set_index("setting"), width="stretch")
    curves = {f"#{r['id']} {r['name']}": store.epochs(r["id"]) for r in picked}
    if any(curves.values()):
        st.plotly_chart(accuracy_curves_figure(curves), width="stretch")
    else:
        st.caption("None of the selected runs has finished an epoch yet.")
else:
    st.caption("Select one or more runs in the table to see their settings and test-accuracy curves.")

st.divider()
st.subheader("Sweeps")  # the sweep launcher goes here
st.caption("Launching a sweep (one setting over several values) from here is not available yet.")
