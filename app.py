"""The Gradio app: draw or upload, pick a model or compare them all, see what it saw and why.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)

Wiring only: the page's layout and events, and the API. The API's functions (also MCP
tools at /gradio_api/mcp/, unless GRADIO_MCP_SERVER=false), the page's handlers, parts, words
and pictures, the served models, the corrections store and the server's upkeep are in
``web/``.
"""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from web import page, upkeep  # first: the package switches Gradio's analytics off
import gradio as gr

from classifier.datasets import DATASETS
from classifier.predict import study
from web import api, corrections
from web.handlers import (PREDICTED, analyse, correction_page, fool_page, model_card,
                          model_options, offered, trust_page)
from web.page import clothing_examples, examples, image_upload, sketchpad
from web.served import ALL_MODELS, MODELS, add_hub_models, warm_up

log = logging.getLogger("app")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

ROOT = Path(__file__).resolve().parent
# Models from the Hugging Face Hub join the shipped ones: HUB_MODELS="user/mnist-cnn,..."
HUB_MODELS = [r.strip() for r in os.environ.get("HUB_MODELS", "").split(",") if r.strip()]
MAX_UPLOAD = "10mb"

# ------------------------------------------------------------------ layout

def panel(dataset: str) -> page.Panel:
    """A tab's answer panel, its controls set for the tab's default model."""
    names = MODELS[dataset]
    default = DATASETS[dataset].default_model
    default = default if default in names else (names[0] if names else None)
    info = next((m for m in ALL_MODELS if m["name"] == default), None)
    titles, notes = offered(info["arch"] if info else None)
    return page.answer_panel(dataset, names, default, titles, notes,
                             [PREDICTED, *(info["class_names"] if info else [])])


def wire_panel(p: page.Panel, state, dataset: str) -> None:
    """The compare-all part shows while asked for; a new model offers its own methods; each
    new overlay is checked; the Fool-it button attacks the kept input; a correction of the
    answer on the kept input is stored."""
    p.compare_on.change(lambda on: gr.update(visible=on), p.compare_on, p.compared,
                        queue=False, show_progress="hidden", api_visibility="private")
    p.model.change(lambda m, me, t: model_options(m, me, t, dataset),
                   [p.model, p.method, p.target], [p.method, p.method_note, p.target],
                   show_progress="hidden", api_visibility="private")
    # a new overlay comes with every full answer, never while the pen moves: then the check
    p.overlay.change(lambda image, m, me, t: trust_page(image, m, me, t, dataset),
                     [state, p.model, p.method, p.target], p.trust, trigger_mode="always_last",
                     show_progress="hidden", api_visibility="private")
    p.fool_button.click(lambda image, m, goal: fool_page(image, m, goal, dataset),
                        [state, p.model, p.fool_target], [p.fool_seen, p.fool_change, p.fool_note],
                        api_visibility="private")
    p.correct_button.click(lambda image, m, label: correction_page(image, m, label, dataset),
                           [state, p.model, p.right], p.correct_note, api_visibility="private")


def wire(source, state, p: page.Panel, dataset: str, read=lambda value: value) -> None:
    """A new input is analysed in the same request that keeps it (one round trip per
    stroke; while the pen moves, the answer alone); a changed control re-analyses the kept
    input. ``read`` turns the component's value into the input that is kept."""
    def run(image, model, method, target, compare_on, live=False):
        return analyse(image, model, method, target, compare_on, dataset, live).outputs()

    def keep_and_run(value, *rest):
        image = read(value)
        return (image, *run(image, *rest, live=str(value).startswith(page.LIVE)))

    controls, outputs = p.controls(), p.outputs()
    source.change(keep_and_run, [source, *controls], [state, *outputs],
                  trigger_mode="always_last", show_progress="hidden", api_visibility="private")
    for control in controls:
        control.change(run, [state, *controls], outputs, trigger_mode="always_last",
                       show_progress="hidden", api_visibility="private")


def build() -> gr.Blocks:
    """The page, over the served models."""
    with gr.Blocks(title="MNIST & Fashion-MNIST: classify, compare, explain",
                   delete_cache=(upkeep.CACHE_SWEEP_S, upkeep.CACHE_AGE_S)) as demo:
        gr.Markdown(page.INTRO, elem_classes=["intro"])
        with gr.Tab("Digits"):
            digit_state = gr.State(None)
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300):
                    with gr.Tab("Draw"):
                        sketch = sketchpad()
                    with gr.Tab("Upload"):
                        # a file path: the classifier reads the file (EXIF orientation, any mode)
                        digit_upload = image_upload(label="Photo or scan of a digit", height=300,
                                                    sources=["upload", "clipboard", "webcam"],
                                                    elem_id="digit-upload")
                        gr.Examples(examples("digit"), inputs=digit_upload, cache_examples=False)
                with gr.Column(scale=6, min_width=300):
                    digits = panel("mnist")
            page.more_panel(digits)
            wire_panel(digits, digit_state, "mnist")
            wire(sketch, digit_state, digits, "mnist", read=page.drawing)
            wire(digit_upload, digit_state, digits, "mnist")
        with gr.Tab("Clothing"):
            cloth_state = gr.State(None)
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300):
                    cloth_upload = image_upload(label="Photo of one piece of clothing", height=300,
                                                sources=["upload", "clipboard", "webcam"],
                                                elem_id="clothing-upload")
                with gr.Column(scale=6, min_width=300):
                    clothing = panel("fashion-mnist")
            # below the answer, so a phone shows the answer right under the photo
            caption = gr.Textbox(visible=False, label="Class")
            gr.Examples(clothing_examples(), inputs=[cloth_upload, caption],
                        cache_examples=False, examples_per_page=6,
                        label="Examples: real photos first, then Fashion-MNIST items")
            page.more_panel(clothing)
            wire_panel(clothing, cloth_state, "fashion-mnist")
            wire(cloth_upload, cloth_state, clothing, "fashion-mnist")
        with gr.Tab("Models"):
            chosen, card = page.models_tab(*study(), [m["name"] for m in ALL_MODELS])
            # hidden progress: Gradio's screen-reader status would read "common.complete"
            chosen.change(model_card, chosen, card, show_progress="hidden",
                          api_visibility="private")
            demo.load(model_card, chosen, card, show_progress="hidden", api_visibility="private")
        page.accessibility()  # last: its empty block adds no gap above the tabs
        for tool in api.TOOLS:  # the API, and the MCP tools of the same names
            gr.api(tool, api_name=tool.__name__)
    # 2 vCPU: two queues, the page's and the API's, each two at a time, first come first
    # served: the most frequent request (a stroke, /classify) never waits behind its own
    # kind while other kinds' workers idle, and no flood of API calls starves the page
    for fn in demo.fns.values():
        fn.concurrency_id = "api" if fn.fn in api.TOOLS else "page"
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def __getattr__(name: str):
    """``app.demo``, built on first use (``gradio app.py`` and the tests read it)."""
    if name == "demo":
        globals()["demo"] = build()
        return globals()["demo"]
    raise AttributeError(name)


def launch_options() -> dict:
    # state_session_capacity: each open page keeps its last input (a drawing is a few kB)
    # max_threads: fewer worker threads, fewer per-thread buffers in torch and malloc
    # mcp_server: agents call the API as MCP tools; GRADIO_MCP_SERVER=false switches that off
    return dict(max_file_size=MAX_UPLOAD, css=page.CSS, state_session_capacity=256,
                max_threads=8,
                mcp_server=os.environ.get("GRADIO_MCP_SERVER", "true").lower() == "true",
                server_name=os.environ.get("GRADIO_SERVER_NAME"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))


def stop(*_):
    raise KeyboardInterrupt  # Gradio then closes the server and deletes its temporary files


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)  # docker stop, a Space restart
    add_hub_models(HUB_MODELS)
    warm_up()
    corrections.store()  # at start: a Space's push to the Hub sets up its dataset now
    upkeep.keep_bounded()
    build().launch(**launch_options())
