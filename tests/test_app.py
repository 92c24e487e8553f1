"""Every page runs headless on the committed demo artifacts, and its widgets do what they say."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from thisineq.app import maps

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["app_pages/home.py", "app_pages/generator.py", "app_pages/map.py", "app_pages/dataset.py", "app_pages/about.py"]


def run(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_the_app_navigates():
    run("streamlit_app.py")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs(page):
    run(page)


@pytest.mark.parametrize("page", ["app_pages/home.py", "app_pages/generator.py", "app_pages/map.py", "app_pages/dataset.py"])
def test_data_pages_say_the_demo_is_synthetic(page):
    at = run(page)
    assert any("Synthetic data" in w.value for w in at.warning)


def test_map_domain_and_photo_choice():
    at = run("app_pages/map.py")
    at.selectbox(key="map_domain").select("health").run()
    assert not at.exception
    photo = at.selectbox(key="map_photo")
    photo.select(photo.options[3]).run()  # options are labels: "id — area, decile, split"
    assert not at.exception
    chosen = at.selectbox(key="map_photo").value
    assert photo.options[3].startswith(chosen) and any(f"Photo `{chosen}`" in md.value for md in at.markdown)


def test_decile_colours_run_from_red_to_blue():
    assert maps.decile_colour(1)[:3] == [165, 0, 38]
    assert maps.decile_colour(10)[:3] == [49, 54, 149]
    assert maps.decile_colour(None)[:3] == list(maps.NO_DATA)
    geojson = {"features": [{"properties": {"lsoa_code": "E01000001"}}, {"properties": {"lsoa_code": "E01000002"}}]}
    coloured = maps.coloured_geojson(geojson, pd.Series({"E01000001": 2}))
    assert coloured["features"][0]["properties"]["fill"][:3] == list(maps.DECILE_COLOURS[1])
    assert coloured["features"][1]["properties"]["fill"][:3] == list(maps.NO_DATA)
    assert "fill" not in geojson["features"][0]["properties"]  # the cached original is untouched


def test_london_choropleth_payload_fits_three_megabytes(london):
    from thisineq.data.geo import read_boundaries, web_geojson
    from thisineq.data.imd import read_iod

    geojson = json.loads(web_geojson(read_boundaries(london.boundaries_shp)))
    deciles = read_iod(london.file2_london)["income_decile"]
    payload = json.dumps(maps.coloured_geojson(geojson, deciles), separators=(",", ":"))
    assert len(geojson["features"]) == 4835 and len(payload.encode()) <= 3_000_000


def test_generator_seed_lives_in_the_url():
    at = run("app_pages/generator.py")
    assert len(at.get("image")) == 2  # original and edited
    before = at.get("image")[0].proto.imgs[0].url
    at.number_input(key="generator_seed").set_value(7).run()
    assert at.get("image")[0].proto.imgs[0].url != before  # another seed, another image
    assert not at.exception
    assert at.query_params["seed"] in ("7", ["7"])
    again = AppTest.from_file(str(ROOT / "app_pages/generator.py"), default_timeout=60)
    again.query_params["seed"] = "7"
    again.run()
    assert again.number_input(key="generator_seed").value == 7


def test_map_view_falls_back_to_the_areas_when_photos_have_no_coordinates():
    square = {"type": "Polygon", "coordinates": [[[0.0, 51.0], [0.2, 51.0], [0.2, 51.2], [0.0, 51.2], [0.0, 51.0]]]}
    geojson = {"features": [{"geometry": square, "properties": {}}]}
    view = maps.initial_view(pd.DataFrame({"lat": [float("nan")], "lon": [float("nan")]}), geojson)
    assert abs(view["latitude"] - 51.08) < 0.05 and abs(view["longitude"] - 0.08) < 0.05
    view = maps.initial_view(pd.DataFrame({"lat": [52.0, 52.2], "lon": [1.0, 1.2]}), geojson)
    assert abs(view["latitude"] - 52.1) < 1e-9


def test_deck_json_is_compact_and_leaves_the_layers_their_data():
    import pydeck as pdk

    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0.1, 51.5]}, "properties": {"fill": [1, 2, 3, 4]}}
    ] * 50
    collection = {"type": "FeatureCollection", "features": features}
    layer = pdk.Layer("GeoJsonLayer", collection)
    compact, indented = maps.CompactDeck(layers=[layer]).to_json(), pdk.Deck(layers=[layer], map_provider=None).to_json()
    assert "\n" not in compact and len(compact) < len(indented) / 2
    assert json.loads(compact) == json.loads(indented)
    assert "mapProvider" not in json.loads(compact) and "http" not in json.loads(compact)["mapStyle"]  # no basemap to fetch
    assert layer.data is collection  # written from a copy: the layer itself keeps its data


def test_photo_points_leave_out_photos_without_coordinates():
    photos = pd.DataFrame(
        {
            "lat": [51.5, float("nan")],
            "lon": [-0.1, 0.0],
            "lsoa_name": ["A 001A", "B 001A"],
            "lsoa_code": ["E01000001", "E01000002"],
            "income_decile": [2, 9],
        },
        index=pd.Index(["p1", "p2"], name="photo_id"),
    )
    points = maps.photo_points(photos, "income")
    assert points.to_dict("records") == [
        {
            "photo_id": "p1",
            "lat": 51.5,
            "lon": -0.1,
            "lsoa_name": "Photo p1 (no split), A 001A",  # the tooltip's first line
            "lsoa_code": "E01000001",
            "decile": 2,
        }
    ]
    spec = json.loads(maps.CompactDeck(layers=[maps.photo_layer(points)]).to_json())
    assert spec["layers"][0]["@@type"] == "ScatterplotLayer" and spec["layers"][0]["data"][0]["decile"] == 2


@pytest.mark.parametrize(
    "params", [{"seed": "-5", "psi": "7"}, {"seed": "abc", "psi": "nan", "income": "99"}, {"seed": "1e30", "income": "x"}]
)
def test_generator_survives_hostile_urls(params):
    at = AppTest.from_file(str(ROOT / "app_pages/generator.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert 0 <= at.number_input(key="generator_seed").value < 2**31 and 0.0 <= at.slider(key="generator_psi").value <= 1.0
    income = {"99": 3.0, "x": 0.0}.get(params.get("income"))
    if income is not None:
        assert at.slider(key="generator_slider_income").value == income


@pytest.mark.parametrize("page", ["app_pages/generator.py", "app_pages/walks.py", "app_pages/upload.py"])
def test_generator_pages_say_when_a_set_has_no_generator(page, tmp_path, monkeypatch):
    import streamlit as st

    from thisineq.artifacts import demo_set

    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "city").symlink_to(demo_set().city.resolve())  # a dataset, and nothing built from it
    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    st.cache_data.clear()  # tables cached by path from other tests' sets
    try:
        at = run(page)
        assert any("no generator yet" in i.value for i in at.info) and not at.slider
    finally:
        st.cache_data.clear()


def deck_spec(at: AppTest) -> dict:
    (chart,) = at.get("deck_gl_json_chart")
    return json.loads(chart.proto.json)


def test_map_outlines_start_on_for_a_small_map_and_can_be_switched_off():
    at = run("app_pages/map.py")
    assert at.toggle(key="map_outlines").value  # the demo city has fewer areas than maps.OUTLINE_LIMIT
    assert deck_spec(at)["layers"][0]["stroked"] is True
    at.toggle(key="map_outlines").set_value(False).run()
    assert not at.exception
    assert deck_spec(at)["layers"][0]["stroked"] is False


def test_streamlit_config_keeps_the_full_collection_after_each_run_off_and_visitors_out_of_developer_options():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False  # a slider's image waited ~0.2 s behind gc.collect(2)
    assert config["browser"]["gatherUsageStats"] is False  # works with no internet, phones nowhere
    assert config["client"]["toolbarMode"] == "viewer"  # no Deploy or Clear-cache for visitors


def test_pages_on_a_set_with_a_generator_but_no_boundaries(tmp_path, monkeypatch):
    import streamlit as st

    from thisineq.artifacts import demo_set

    (tmp_path / "young").mkdir()
    for part in ("city", "gan"):  # a dataset and a generator, nothing built from them yet
        (tmp_path / "young" / part).symlink_to((demo_set().root / part).resolve())
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "city").symlink_to(demo_set().city.resolve())
    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    st.cache_data.clear()

    def run(page: str, artifact_set: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / page), default_timeout=120)
        at.session_state["chosen_artifact_set"] = artifact_set  # as chosen on an earlier page
        at.run()
        assert not at.exception, (page, at.exception)
        return at

    try:
        generator = run("app_pages/generator.py", "young")
        assert any("No deprivation boundaries" in i.value for i in generator.info)
        assert generator.selectbox(key="generator_fit").disabled and not generator.get("slider")[1:]  # ψ only
        assert any("No deprivation boundaries" in i.value for i in run("app_pages/walks.py", "young").info)
        metrics = run("app_pages/metrics.py", "young")
        assert any("No visibility figures" in i.value for i in metrics.info)
        run("app_pages/kiosk.py", "young")
        assert any("No generator in the bare artifact set" in i.value for i in run("app_pages/kiosk.py", "bare").info)
    finally:
        st.cache_data.clear()


def test_domain_sliders_start_from_url_values_clamped_and_rounded_to_their_step():
    def sliders():
        import numpy as np

        from thisineq.app import widgets
        from thisineq.latent.normals import Direction

        directions = {d: Direction(d, np.eye(4)[i], 1.0) for i, d in enumerate(["income", "health", "education"])}
        widgets.domain_sliders(directions, "test_slider_", initial={"income": "1.3", "health": "-99", "education": "x"})

    at = AppTest.from_function(sliders, default_timeout=60).run()
    assert not at.exception
    assert [s.value for s in at.slider] == [1.25, -3.0, 0.0]
    assert [s.label for s in at.slider][:2] == ["Income: deprived ← → privileged", "Health: deprived ← → privileged"]
    assert {(s.min, s.max, s.step) for s in at.slider} == {(-3.0, 3.0, 0.25)}


def nesting(node, depth: int = 0) -> int:
    """The deepest block nesting under `node` (a module's own statements are at depth 0)."""
    blocks = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef, ast.Match)
    deepest = depth
    for child in ast.iter_child_nodes(node):
        deeper = depth + 1 if isinstance(child, blocks) else depth
        deepest = max(deepest, nesting(child, deeper))
    return deepest


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "app_pages").glob("*.py")))
def test_pages_are_flat(page):
    """A page composes UI: a precondition stops it (st.stop), work lives in thisineq.app, blocks nest at most 3 deep."""
    tree = ast.parse((ROOT / "app_pages" / page).read_text(encoding="utf-8"))
    assert nesting(tree) <= 3


def test_no_legacy_pages_folder_beside_the_app():
    # Streamlit reads a folder named pages/ beside the main script as its legacy multipage app, which
    # takes a first deep link (/generator?seed=7) away from streamlit_app.py's st.navigation.
    assert not (ROOT / "pages").exists()


@pytest.mark.parametrize("page", ["app_pages/home.py", "app_pages/map.py", "app_pages/generator.py"])
def test_pages_say_how_to_build_an_artifact_set_where_there_is_none(page, tmp_path, monkeypatch):
    import streamlit as st

    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    st.cache_data.clear()  # tables cached by path from other tests' sets
    try:
        at = run(page)
        assert [e.value for e in at.error] == ["No artifact set found under `artifacts/`. Build the demo with `make demo`."]
        assert not at.get("selectbox") and not at.get("image")  # the page stopped there
    finally:
        st.cache_data.clear()


def test_the_set_shown_is_the_urls_then_the_one_chosen_before_then_the_first():
    from thisineq.app.state import resolve_set

    names = ["demo", "london"]
    assert resolve_set(names, "london", "demo") == ("london", None)  # a shared link or a reload
    assert resolve_set(names, None, "london") == ("london", None)  # a page change: the URL lost its set
    assert resolve_set(names, None, "gone") == ("demo", None)  # chosen earlier, deleted since
    chosen, problem = resolve_set(names, "lodnon", "london")
    assert chosen == "london" and "lodnon" in problem and "demo, london" in problem


def test_a_set_built_while_the_app_runs_appears_without_a_restart(tmp_path, monkeypatch):
    from thisineq.artifacts import demo_set

    demo = demo_set().root.resolve()
    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    (tmp_path / "demo").symlink_to(demo)
    at = AppTest.from_file(str(ROOT / "app_pages/dataset.py"), default_timeout=60).run()
    assert at.selectbox(key="artifact_set").options == ["demo"]
    (tmp_path / "later").symlink_to(demo)
    at.run()
    assert at.selectbox(key="artifact_set").options == ["demo", "later"]
    at.selectbox(key="artifact_set").set_value("later").run()
    assert not at.exception and at.session_state["chosen_artifact_set"] == "later" and at.query_params["set"] == "later"


def test_a_click_on_the_map_names_a_photo_before_its_area():
    area = {"properties": {"lsoa_code": "E01000001", "lsoa_name": "A 001A"}}
    photo = {"photo_id": "p7", "lsoa_code": "E01000001"}
    assert maps.clicked({"selection": {"indices": {}, "objects": {}}}) is None
    assert maps.clicked(None) is None
    assert maps.clicked({"selection": {"objects": {"areas": [area]}}}) == ("area", "E01000001")
    assert maps.clicked({"selection": {"objects": {"areas": [area], "photos": [photo]}}}) == ("photo", "p7")


def test_the_map_opens_on_a_held_out_photo_that_every_method_inverted():
    photos = pd.DataFrame({"split": ["train", "test", "test", "val"]}, index=pd.Index(["a", "b", "c", "d"], name="photo_id"))
    inverted = {"e4e": {"a", "b", "c", "d"}, "restyle": {"a", "b", "c", "d"}, "projector": {"c", "d"}, "hybrid": {"c"}}
    assert maps.default_photo(photos, inverted) == "c"
    assert maps.default_photo(photos.iloc[:1], inverted) == "a"  # no held-out photo: the best of the rest
    assert maps.default_photo(photos, {}) == "b"

    at = run("app_pages/map.py")
    split = at.selectbox(key="map_photo").format_func(at.selectbox(key="map_photo").value).rsplit(", ", 1)[1]
    assert split in ("test", "val")
    captions = [img.caption for image in at.get("image") for img in image.proto.imgs]
    assert captions[1:] == ["real photo", "e4e", "ReStyle", "projector", "hybrid (e4e + projector)"]


def test_the_map_lists_the_photos_of_a_clicked_area_and_can_let_it_go():
    from thisineq.artifacts import demo_set
    from thisineq.data.dataset import load_dataset

    photos = load_dataset(demo_set().dataset).photos
    code = photos["lsoa_code"].value_counts().index[0]  # the area with the most photos
    at = AppTest.from_file(str(ROOT / "app_pages/map.py"), default_timeout=60)
    at.session_state["map_area"] = code
    at.run()
    assert not at.exception and code in at.subheader[0].value
    listed = {label.split(" — ")[0] for label in at.selectbox(key="map_photo").options}
    assert listed == set(photos.index[photos["lsoa_code"] == code])
    at.button(key="map_area_clear").click().run()
    assert not at.exception and len(at.selectbox(key="map_photo").options) == len(photos)


def test_a_domain_a_method_has_no_boundary_for_is_explained_with_its_photo_counts():
    from types import SimpleNamespace

    from thisineq.app import widgets
    from thisineq.latent.labels import DECILE_BANDS
    from thisineq.latent.normals import BoundarySet, Direction

    normals = BoundarySet()
    for method, domains in {"e4e": ["income", "education"], "projector": ["income"]}.items():
        for name in domains:
            normals.add(method, Direction(name, np.eye(4)[0], 1.0), fit="standardised")
    # The projector inverted 12 photos: education deciles 1 (deprived) ×7, 9 (privileged) ×3, 5 (neither) ×2.
    ids = [f"p{i}" for i in range(12)]
    photos = pd.DataFrame({"education_decile": [1] * 7 + [9] * 3 + [5] * 2}, index=pd.Index(ids, name="photo_id"))
    inverted = {"projector": SimpleNamespace(photo_id=np.array(ids))}
    record = {"table1_classes": [DECILE_BANDS.name]}
    reasons = widgets.missing_boundaries(normals, "projector", "standardised", photos, inverted, record)
    assert list(reasons) == ["education"]
    assert "only 7 deprived and 3 privileged photos" in reasons["education"] and "at least 10 of each" in reasons["education"]
    assert widgets.missing_boundaries(normals, "e4e", "standardised", photos, inverted, record) == {}
    # a method whose latents are not at hand still gets a reason
    assert "fitted none" in widgets.missing_boundaries(normals, "projector", "standardised", photos, {}, record)["education"]


def test_the_overview_marks_what_a_set_holds_in_words_not_emoji(tmp_path, monkeypatch):
    from thisineq.artifacts import demo_set

    demo = demo_set()
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "city").symlink_to(demo.city.resolve())  # a dataset, and nothing built from it
    (tmp_path / "demo").symlink_to(demo.root.resolve())
    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    for name, expected in (("demo", "— built"), ("bare", "— *not built yet*")):
        at = AppTest.from_file(str(ROOT / "app_pages/home.py"), default_timeout=60)
        at.session_state["chosen_artifact_set"] = name
        at.run()
        (holdings,) = [m.value for m in at.markdown if "What this artifact set holds" in m.value]
        lines = holdings.split("  \n")[1:]
        assert len(lines) == 5 and all(line.endswith(expected) for line in lines), (name, lines)
        assert not any(0x2600 <= ord(c) <= 0x27BF or ord(c) >= 0x1F000 for c in holdings)  # no emoji to go missing
        if name == "demo":  # its headline: each figure, its 95% interval where the source has one, and the verdict
            (figures,) = [frame.value for frame in at.dataframe if "verdict" in frame.value]
            assert {"value", "interval", "target", "verdict"} <= set(figures) and (figures["interval"] != "").any()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "is not readable JSON and is left out"),
        ("[1, 2]", "holds a JSON list, not a record"),
        ('{"schema": "v0", "set": "mine", "figures": []}', "schema is 'v0', not 'thisineq-headline/2'"),
    ],
)
def test_a_damaged_or_foreign_headline_is_named_on_the_overview_not_a_crash(tmp_path, monkeypatch, content, said):
    import streamlit as st

    from thisineq.artifacts import demo_set

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "city").symlink_to(demo_set().city.resolve())
    (mine / "headline.json").write_text(content, encoding="utf-8")
    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    st.cache_data.clear()
    try:
        at = run("app_pages/home.py")
        assert any(said in w.value and "headline.json" in w.value for w in at.warning), [w.value for w in at.warning]
        assert not any("verdict" in frame.value for frame in at.dataframe)
    finally:
        st.cache_data.clear()


def test_the_synthetic_banner_reads_right_for_a_synthetic_city_and_for_synthetic_photos_on_real_areas():
    from thisineq.app.state import synthetic_notice

    city = synthetic_notice("Doggerton (synthetic)", pd.Index(["X01000001", "X01000002"]))
    assert "*Doggerton (synthetic)* is a procedurally generated city" in city
    london = synthetic_notice("Synthetic photos on a real decile map", pd.Index(["E01000001", "E01000002"]))
    assert london.startswith("**Synthetic photos.**") and "areas and their deprivation deciles are real" in london
    assert "is a procedurally generated city" not in london


WIDGETS = {
    "button",
    "checkbox",
    "toggle",
    "radio",
    "selectbox",
    "multiselect",
    "slider",
    "select_slider",
    "number_input",
    "text_input",
    "file_uploader",
    "download_button",
    "pydeck_chart",
    "data_editor",
}


def test_every_widget_is_keyed_by_what_it_controls():
    """A widget without a key is named by its label and position: two that look alike share state (the projector once
    ran the hybrid's step count), and a page that moves one loses its value."""
    unkeyed = []
    for path in sorted([*(ROOT / "app_pages").glob("*.py"), *(ROOT / "thisineq" / "app").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WIDGETS
            if called and not any(k.arg == "key" for k in node.keywords):
                unkeyed.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.attr}")
    assert not unkeyed, unkeyed


def test_the_kiosk_honours_the_set_in_its_url(tmp_path, monkeypatch):
    from thisineq.artifacts import demo_set

    demo = demo_set().root.resolve()
    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    (tmp_path / "demo").symlink_to(demo)
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "city").symlink_to(demo / "city")
    at = AppTest.from_file(str(ROOT / "app_pages/kiosk.py"), default_timeout=60)
    at.query_params["set"] = "bare"
    at.run()
    assert any("No generator in the bare artifact set" in i.value for i in at.info)  # the URL's set, not the demo
    at = AppTest.from_file(str(ROOT / "app_pages/kiosk.py"), default_timeout=60)
    at.query_params["set"] = "elsewhere"
    at.run()
    assert at.error and "elsewhere" in at.error[0].value and "demo, bare" in at.error[0].value  # the demo first


def test_the_generator_page_works_for_a_larger_generator(tmp_path, monkeypatch):
    """A lab's 128-px generator (no boundaries yet) on the generator page: images at its size, nothing assumes 64 px."""
    import base64
    import io

    import torch
    from PIL import Image

    from thisineq.artifacts import demo_set
    from thisineq.models.stylegan2 import Generator, StyleGAN2Config, save_generator

    demo = demo_set().root.resolve()
    monkeypatch.setenv("THISINEQ_ARTIFACTS", str(tmp_path))
    (tmp_path / "big" / "gan").mkdir(parents=True)
    (tmp_path / "big" / "city").symlink_to(demo / "city")
    torch.manual_seed(0)
    config = StyleGAN2Config(size=128, style_dim=32, n_mlp=2, channels={4: 32, 8: 32, 16: 16, 32: 16, 64: 8, 128: 8})
    save_generator(Generator(config), tmp_path / "big" / "gan" / "generator.pt")
    at = AppTest.from_file(str(ROOT / "app_pages/generator.py"), default_timeout=60)
    at.session_state["chosen_artifact_set"] = "big"
    at.run()
    assert not at.exception
    urls = [img.url for image in at.get("image") for img in image.proto.imgs]
    assert len(urls) == 2
    for url in urls:
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
            assert image.size == (128, 128)
