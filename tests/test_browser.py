"""A real browser (Debian's Chromium driven by Playwright) draws a digit on the page's
canvas with the mouse or a finger and reads the answer from the page. With
UPDATE_SCREENSHOTS=1 it also refreshes the screenshots in docs/ that the README shows."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but Chromium is not installed")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the app did not start within 120 s")
    yield url
    proc.terminate()
    proc.wait(10)


DESKTOP = {"viewport": {"width": 1300, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def opened(browser, server, **context):
    """A new page on the app, its canvas ready (there is no tool to pick: it draws at once)."""
    page = browser.new_context(**context).new_page()
    page.goto(server)
    page.wait_for_selector("#sketchpad canvas", timeout=60000)
    page.wait_for_timeout(1500)
    return page


def draw(page, points):
    box = page.query_selector("#sketchpad canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx + points[0][0], cy + points[0][1])
    page.mouse.down()
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        for t in range(1, 21):
            page.mouse.move(cx + ax + (bx - ax) * t / 20, cy + ay + (by - ay) * t / 20)
    page.mouse.up()


def touch_draw(page, points):
    """The same stroke as ``draw``, made with a finger: touch events through the DevTools
    protocol (Playwright's touchscreen only taps)."""
    box = page.query_selector("#sketchpad canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)

    def touch(kind, x, y):
        return cdp.send("Input.dispatchTouchEvent", {
            "type": kind, "touchPoints": [] if kind == "touchEnd" else [{"x": x, "y": y}]})

    touch("touchStart", cx + points[0][0], cy + points[0][1])
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        for t in range(1, 21):
            touch("touchMove", cx + ax + (bx - ax) * t / 20, cy + ay + (by - ay) * t / 20)
    touch("touchEnd", 0, 0)
    cdp.detach()


def in_first_screen(page, *selectors) -> bool:
    """Every element is inside the viewport without scrolling."""
    height = page.viewport_size["height"]
    boxes = [page.query_selector(s).bounding_box() for s in selectors]
    return all(b is not None and b["y"] >= 0 and b["y"] + b["height"] <= height for b in boxes)


LABEL_TITLES = ("Top classes (calibrated)", "Guesses (not to be trusted here)")
LIVE_MARK = "While you draw"  # an answer given while the pen moves, before the final one


def predicted_label(page, timeout=30.0) -> str:
    end = time.time() + timeout
    while time.time() < end:
        lines = [s.strip() for s in page.inner_text("#mnist-label").splitlines() if s.strip()]
        titles = [k for k, line in enumerate(lines) if line in LABEL_TITLES]
        if titles and len(lines) > titles[0] + 2 and lines[-1].endswith("%"):
            return lines[titles[0] + 1]  # the title, then the top class
        time.sleep(0.3)
    raise AssertionError(f"no prediction appeared on the page; the label reads {lines}")


def test_draw_a_seven_with_the_mouse_and_read_the_answer(server, tmp_path):
    """Desktop: the answer, its confidence and the 28x28 input are in view at once; every
    link on the models tab resolves."""
    sync_api = require_browser()
    shots = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = opened(browser, server, **DESKTOP)
        draw(page, [(-70, -90), (70, -90), (10, 100)])  # a 7: bar, then stem
        assert predicted_label(page) == "7"
        assert in_first_screen(page, "#mnist-label", "#mnist-seen img", "#mnist-overlay img")
        page.screenshot(path=str(shots / "digits.png"))
        page.get_by_label("Compare all models side by side").first.check()
        page.wait_for_timeout(4000)  # let the compare-all gallery fill in
        assert page.get_by_text("All models").first.is_visible()
        page.screenshot(path=str(shots / "compare.png"), full_page=True)
        page.get_by_role("tab", name="Clothing").click()
        page.locator("#clothing-upload input[type=file]").set_input_files(
            str(ROOT / "examples" / "clothing" / "real-t-shirt.jpg"))
        page.wait_for_timeout(6000)
        page.screenshot(path=str(shots / "clothing.png"), full_page=True)
        page.get_by_role("tab", name="Models").click()
        page.wait_for_timeout(2000)
        links = page.evaluate("() => [...document.querySelectorAll('.report a[href]')]"
                              ".map(a => a.href)")
        for href in links:
            if href.startswith(server):
                assert urllib.request.urlopen(href, timeout=10).status == 200, href
        page.wait_for_timeout(12000)  # past the server's first sweep of its upload folder
        page.reload()
        page.get_by_role("tab", name="Models").click()
        page.wait_for_timeout(3000)
        broken = page.evaluate("() => [...document.querySelectorAll('img')].filter(i => "
                               "i.offsetParent !== null && !(i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], broken  # the comparison plot and the card's figures load
        page.screenshot(path=str(shots / "models.png"), full_page=True)
        assert "common." not in page.evaluate("() => document.body.innerText")  # raw i18n keys
        browser.close()


NOT_READ = "This file is not an image that can be read"


@pytest.mark.parametrize("name,content,said", [
    ("notes.png", b"a text file, renamed", NOT_READ),
    ("empty.jpg", b"", NOT_READ),
    # the start of an iPhone's photo: Pillow cannot decode HEIC
    ("IMG_0001.heic", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200, "This is an HEIC photo"),
])
def test_uploading_a_file_that_is_not_an_image_shows_the_message(server, tmp_path, name,
                                                                  content, said):
    sync_api = require_browser()
    bad = tmp_path / name
    bad.write_bytes(content)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(server)
        page.get_by_role("tab", name="Clothing").click()
        page.locator("#clothing-upload input[type=file]").set_input_files(str(bad))
        toast = page.get_by_test_id("toast-text").filter(has_text=said)  # in view at once
        toast.wait_for(timeout=30000)
        # and in the status, which may land a moment after the toast on a busy machine
        page.get_by_role("strong").filter(has_text=said).wait_for(timeout=30000)
        page.screenshot(path=str(tmp_path / "not-an-image.png"))
        browser.close()


def status_text(page, selector="#mnist-status", timeout=30.0, contains="") -> str:
    """The message over the answer once the final answer has come: not one given while the
    pen moved, no request running, the same text twice in a row."""
    end, last = time.time() + timeout, None
    while time.time() < end:
        text = page.inner_text(selector)
        settled = "processing" not in text and LIVE_MARK not in text and text == last
        if contains in text and text.strip() and settled:
            return text
        last = text
        time.sleep(0.4)
    raise AssertionError(f"{contains!r} did not appear; the page says {text!r}")


def test_big_drawings_numbers_and_scribbles_as_people_draw_them(server, tmp_path):
    """On a phone, where space is tightest (the desktop layout was checked by hand too)."""
    viewport = PHONE["viewport"]
    sync_api = require_browser()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = opened(browser, server, **PHONE)
        # the canvas element is the drawing area (300 px across on a 390 px phone)
        half = 0.49 * page.query_selector("#sketchpad canvas").bounding_box()["width"]
        # a 1 from the very top edge to the very bottom, with a finger: big drawings used
        # to be refused as empty
        touch_draw(page, [(0, -half), (0, half)])
        assert predicted_label(page) == "1"
        assert in_first_screen(page, "#mnist-label", "#mnist-seen img")
        page.screenshot(path=str(tmp_path / f"edge-{viewport['width']}.png"))
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(ROOT / "docs" / "phone.png"))
        page.locator("#sketchpad button[aria-label*='Clear']").first.click()
        page.wait_for_timeout(500)
        # 1 and 7 side by side, small: a number
        s = half / 140
        touch_draw(page, [(-80 * s, -50 * s), (-80 * s, 50 * s)])  # drawing after clear works
        touch_draw(page, [(0, -50 * s), (70 * s, -50 * s), (20 * s, 50 * s)])
        assert "Reads as the number 17" in status_text(page, contains="number")
        assert "number 17" in text_of(page, "#answer-live", "number 17")  # said aloud too
        page.screenshot(path=str(tmp_path / f"number-{viewport['width']}.png"), full_page=True)
        page.locator("#sketchpad button[aria-label*='Undo']").first.click()  # the 7 goes
        end = time.time() + 30
        while "number" in page.inner_text("#mnist-status") and time.time() < end:
            time.sleep(0.3)
        assert predicted_label(page) == "1"
        page.locator("#sketchpad button[aria-label*='Clear']").first.click()
        page.wait_for_timeout(500)
        # a scribble: one zigzag stroke (crossed out by a second stroke it reads as 1414,
        # a known weakness of the number reader: docs/log.md)
        zigzag = [(-100 * s + 25 * s * k, (60 if k % 2 else -60) * s) for k in range(9)]
        draw(page, zigzag)
        assert "does not look like a digit" in status_text(page, contains="look like")
        page.screenshot(path=str(tmp_path / f"scribble-{viewport['width']}.png"),
                        full_page=True)
        shots = os.environ.get("BROWSER_SHOTS")
        if shots:
            for f in tmp_path.glob("*.png"):
                shutil.copy(f, shots)
        browser.close()


def test_the_answer_updates_while_drawing_and_the_model_can_be_fooled(server, tmp_path):
    """While the pen moves the answer is marked as provisional; lifting it gives the full
    answer and a verdict on the explanation; Fool it flips the answer with a small change."""
    sync_api = require_browser()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = opened(browser, server, **DESKTOP)
        box = page.query_selector("#sketchpad canvas").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx - 70, cy - 90)
        page.mouse.down()
        seen_live = False
        for t in range(60):  # a 7 drawn slowly, over about 3 s
            x, y = (cx - 70 + 140 * t / 20, cy - 90) if t < 20 else \
                (cx + 70 - 60 * (t - 20) / 40, cy - 90 + 190 * (t - 20) / 40)
            page.mouse.move(x, y)
            page.wait_for_timeout(50)
            seen_live = seen_live or LIVE_MARK in page.inner_text("#mnist-label")
        page.screenshot(path=str(tmp_path / "live.png"))
        page.mouse.up()
        assert seen_live, "no answer appeared while the pen was down"
        assert predicted_label(page) == "7"
        trust = page.locator("#mnist-trust")
        end = time.time() + 30
        while "Faithfulness" not in trust.inner_text() and time.time() < end:
            time.sleep(0.3)
        assert "Faithfulness" in trust.inner_text() and "Sanity" in trust.inner_text()
        page.locator("#mnist-fool").click()
        note = page.locator("#mnist-fool-note")
        end = time.time() + 30
        while "→" not in note.inner_text() and time.time() < end:
            time.sleep(0.3)
        assert "7 →" in note.inner_text() and "per pixel" in note.inner_text()
        fooled = page.locator("#mnist-fooled img")
        assert fooled.evaluate("img => img.complete && img.naturalWidth > 0")
        page.screenshot(path=str(tmp_path / "fooled.png"), full_page=True)
        shots = os.environ.get("BROWSER_SHOTS")
        if shots:
            for f in tmp_path.glob("*.png"):
                shutil.copy(f, shots)
        browser.close()


def serious(page) -> list:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in found
            if v["impact"] in ("serious", "critical")]


def text_of(page, selector: str, contains: str, timeout=30.0) -> str:
    end = time.time() + timeout
    while contains not in page.inner_text(selector) and time.time() < end:
        time.sleep(0.3)
    return page.inner_text(selector)


def test_every_tab_passes_axe_and_a_visitor_corrects_an_answer(server, tmp_path):
    """axe-core finds no serious or critical violation on any tab once an answer shows, on a
    desktop and a phone; pictures say what they show; the answer is announced; the canvas's
    Clear and Undo are reached by keyboard with a visible focus; a correction is kept."""
    sync_api = require_browser()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = opened(browser, server, **DESKTOP)
        draw(page, [(-70, -90), (70, -90), (10, 100)])
        assert predicted_label(page) == "7"
        assert text_of(page, "#answer-live", "Digit").startswith("Digit: 7, ")
        assert page.get_attribute("#answer-live", "aria-live") == "polite"
        page.wait_for_timeout(1000)
        assert page.get_attribute("#mnist-seen img", "alt").startswith(
            "The 28x28 image the model saw; the answer: 7, ")
        assert serious(page) == []
        reached = set()
        for _ in range(80):  # Tab through the page from the top
            page.keyboard.press("Tab")
            name = page.evaluate("() => document.activeElement.className")
            if name in ("undo", "clear"):
                reached.add(name)
                outline = page.evaluate("() => getComputedStyle(document.activeElement)"
                                        ".outlineStyle")
                assert outline != "none", f"no visible focus on {name}"
        assert reached == {"undo", "clear"}
        page.locator("#mnist-right input").click()
        page.get_by_role("option", name="1", exact=True).click()
        page.locator("#mnist-correct").click()
        assert "Thank you: kept" in text_of(page, "#mnist-correct-note", "Thank you")
        page.screenshot(path=str(tmp_path / "corrected.png"), full_page=True)
        page.get_by_role("tab", name="Upload").click()  # the upload box and its examples
        page.wait_for_timeout(1000)
        assert serious(page) == []
        page.get_by_role("tab", name="Clothing").click()
        page.locator("#clothing-upload input[type=file]").set_input_files(
            str(ROOT / "examples" / "clothing" / "photo-coat.jpg"))
        text_of(page, "#answer-live", "Clothing")
        page.wait_for_timeout(2000)
        assert serious(page) == []
        page.get_by_role("tab", name="Models").click()
        page.wait_for_timeout(3000)
        assert serious(page) == []
        assert page.get_attribute("#card-confusion img", "alt").startswith("Confusion matrix")
        phone = opened(browser, server, **PHONE)
        draw(phone, [(-70, -90), (70, -90), (10, 100)])
        assert predicted_label(phone) == "7"
        phone.wait_for_timeout(1000)
        assert serious(phone) == []
        browser.close()
