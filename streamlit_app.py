"""thisineq: the dashboard. Run with `make app`."""

import streamlit as st

st.set_page_config(page_title="This inequality does not exist", page_icon="🏘️", layout="wide")

pages = [
    st.Page("pages/home.py", title="Overview", icon="🏘️", default=True),
    st.Page("pages/map.py", title="Map", icon="🗺️"),
    st.Page("pages/dataset.py", title="Dataset", icon="🗂️"),
    st.Page("pages/about.py", title="About", icon="ℹ️"),
]
st.navigation(pages).run()
