"""thisineq: the dashboard. Run with `make app`."""

import streamlit as st

st.set_page_config(page_title="This inequality does not exist", page_icon=":material/holiday_village:", layout="wide")

pages = {
    "Explore": [
        st.Page("pages/home.py", title="Overview", icon=":material/holiday_village:", default=True),
        st.Page("pages/generator.py", title="Generator", icon=":material/tune:"),
        st.Page("pages/map.py", title="Map", icon=":material/map:"),
        st.Page("pages/metrics.py", title="Metrics", icon=":material/analytics:"),
        st.Page("pages/walks.py", title="Walk matrix", icon=":material/grid_view:"),
        st.Page("pages/upload.py", title="Your photo", icon=":material/add_a_photo:"),
    ],
    "More": [
        st.Page("pages/dataset.py", title="Dataset", icon=":material/dataset:"),
        st.Page("pages/kiosk.py", title="Kiosk", icon=":material/fullscreen:"),
        st.Page("pages/about.py", title="About", icon=":material/info:"),
    ],
}
st.navigation(pages).run()
