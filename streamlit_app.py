"""thisineq: the dashboard. Run with `make app`."""

import streamlit as st

from thisineq.app.icon import page_icon
from thisineq.app.jobs import apply_thread_budget

apply_thread_budget()  # torch's threads: all cores but one (THISINEQ_TORCH_THREADS to change), the browser's and server's
st.set_page_config(page_title="This inequality does not exist", page_icon=page_icon(), layout="wide")

pages = {
    "Explore": [
        st.Page("app_pages/home.py", title="Overview", icon=":material/holiday_village:", default=True),
        st.Page("app_pages/generator.py", title="Generator", icon=":material/tune:"),
        st.Page("app_pages/map.py", title="Map", icon=":material/map:"),
        st.Page("app_pages/metrics.py", title="Metrics", icon=":material/analytics:"),
        st.Page("app_pages/walks.py", title="Walk matrix", icon=":material/grid_view:"),
        st.Page("app_pages/predictions.py", title="Predictions", icon=":material/query_stats:"),
        st.Page("app_pages/upload.py", title="Your photo", icon=":material/add_a_photo:"),
    ],
    "More": [
        st.Page("app_pages/dataset.py", title="Dataset", icon=":material/dataset:"),
        st.Page("app_pages/kiosk.py", title="Kiosk", icon=":material/fullscreen:"),
        st.Page("app_pages/about.py", title="About", icon=":material/info:"),
    ],
}
st.navigation(pages).run()
