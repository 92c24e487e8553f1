"""thisineq: the dashboard. Run with `make app`."""

import streamlit as st

st.set_page_config(page_title="This inequality does not exist", page_icon=":material/holiday_village:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Overview", icon=":material/holiday_village:", default=True),
    st.Page("pages/generator.py", title="Generator", icon=":material/tune:"),
    st.Page("pages/map.py", title="Map", icon=":material/map:"),
    st.Page("pages/dataset.py", title="Dataset", icon=":material/dataset:"),
    st.Page("pages/about.py", title="About", icon=":material/info:"),
]
st.navigation(pages).run()
