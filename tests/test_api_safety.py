"""The public API as a hostile or careless caller meets it: it reads only what was uploaded,
serves only the models chosen at start, keeps its disk bounded and answers mistakes with one
clear message (and one log line)."""
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

import app
from web import upkeep
from classifier import ImageError, checkpoint, predict

ROOT = Path(__file__).resolve().parent.parent
ON_DISK = str(ROOT / "examples" / "digit" / "7-1.png")  # a real image, but never uploaded


def raw_call(url: str, endpoint: str, data: list) -> tuple[str, str]:
    """One call through Gradio's plain HTTP API: (event, the data line of the answer)."""
    body = json.dumps({"data": data}).encode()
    request = urllib.request.Request(f"{url}gradio_api/call/{endpoint}", data=body,
                                     headers={"Content-Type": "application/json"})
    event_id = json.load(urllib.request.urlopen(request, timeout=30))["event_id"]
    stream = urllib.request.urlopen(f"{url}gradio_api/call/{endpoint}/{event_id}", timeout=60)
    event = ""
    for line in stream.read().decode().splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            return event, line.split(":", 1)[1].strip()
    raise AssertionError("no answer in the event stream")


@pytest.mark.parametrize("image", [
    ON_DISK, "/etc/hostname", "/dev/zero", "/no/such/file.png",
    {"path": ON_DISK}, {"path": "/etc/hostname"}, {"path": "/dev/zero", "orig_name": "a.png"},
    {"path": ON_DISK, "meta": {"_type": "something else"}},
])
@pytest.mark.parametrize("endpoint,args", [("classify", ["mnist-cnn"]),
                                           ("explain", ["mnist-cnn", "saliency", None]),
                                           ("compare", ["mnist"])])
def test_a_path_that_was_not_uploaded_is_never_read(served, image, endpoint, args):
    event, data = raw_call(served[0], endpoint, [image, *args])
    assert event == "error" and upkeep.NO_IMAGE in data, data  # one message for every case


def test_a_marked_file_outside_the_upload_folder_is_refused(served):
    event, data = raw_call(served[0], "classify",
                           [{"path": ON_DISK, "meta": {"_type": "gradio.FileData"}}, "mnist-cnn"])
    assert event == "error" and str(ROOT) not in data


def test_the_same_file_uploaded_is_classified(client):
    from gradio_client import handle_file

    assert client.predict(handle_file(ON_DISK), "mnist-cnn", api_name="/classify")["label"] == "7"


def test_a_file_uploaded_by_plain_http_is_classified_by_its_path(served):
    """What an agent without gradio_client does: POST the file, then pass the path returned."""
    import httpx

    url, client = served
    with open(ON_DISK, "rb") as f:
        [path] = httpx.post(f"{url}gradio_api/upload", files={"files": f}).json()
    assert client.predict(path, "mnist-cnn", api_name="/classify")["label"] == "7"


@pytest.mark.parametrize("image,said", [
    ("https://example.com/7.png", "never fetches a URL"),
    ("ftp://example.com/7.png", "never fetches a URL"),
    ("file:///etc/hostname", "never fetches a URL"),
    ("/etc/hostname", "No image was received"),
    ("data:text/plain;base64,aGVsbG8=", "must come as a data:image/png;base64 URL"),
    ("data:image/png;base64,not base64!", "not an image that can be read"),
    ("data:image/png;base64," + "A" * upkeep.API_DATA_URL_CHARS, "too large"),
])
def test_an_image_string_is_a_data_url_or_an_upload_and_nothing_else(image, said):
    with pytest.raises(ImageError, match=said):
        upkeep.received_image(image)


def test_in_process_calls_follow_the_same_rule(tmp_path):
    inside = upkeep.upload_folder() / "test-inside.png"
    inside.parent.mkdir(parents=True, exist_ok=True)
    Image.open(ON_DISK).save(inside)
    marked = {"path": str(inside), "meta": {"_type": "gradio.FileData"}}
    try:
        assert upkeep.uploaded_file(marked) == str(inside.resolve())
        link = upkeep.upload_folder() / "test-link.png"  # a link out of the folder is outside
        link.unlink(missing_ok=True)
        link.symlink_to(ON_DISK)
        with pytest.raises(ImageError, match="No image was received"):
            upkeep.uploaded_file({**marked, "path": str(link)})
        with pytest.raises(ImageError, match="No image was received"):
            upkeep.uploaded_file({**marked, "path": "\0"})
    finally:
        inside.unlink(missing_ok=True)
        (upkeep.upload_folder() / "test-link.png").unlink(missing_ok=True)


@pytest.mark.parametrize("name", [
    "./checkpoints/mnist-linear", "././checkpoints/mnist-linear",
    str(ROOT / "checkpoints" / "mnist-linear"), "checkpoints/mnist-linear", "../main",
    "someone/mnist-cnn", "/", "mnist-linear/", "x" * 5000,
])
def test_models_are_chosen_only_by_canonical_name(client, monkeypatch, name):
    from gradio_client import handle_file

    def no_network(repo_id):
        raise AssertionError(f"a request reached the Hub for {repo_id}")
    monkeypatch.setattr(checkpoint, "_download_from_hub", no_network)
    cached = predict._cached.cache_info().currsize
    with pytest.raises(Exception, match="Unknown model") as refused:
        client.predict(handle_file(ON_DISK), name, api_name="/classify")
    message = str(refused.value).replace(name, "")  # the caller's own words may be echoed
    assert str(ROOT) not in message and len(message) < 1000 and "Error:" not in message
    assert predict._cached.cache_info().currsize == cached  # nothing new was loaded


def test_hub_models_load_at_start_with_a_time_limit(monkeypatch, caplog):
    def resolve(repo_id):
        if repo_id == "slow/hub-model":
            time.sleep(3)
        if repo_id == "broken/hub-model":
            raise checkpoint.CheckpointError("could not fetch it")
        return ROOT / "checkpoints" / "mnist-linear"
    monkeypatch.setattr(upkeep, "resolve_checkpoint", resolve)
    start = time.perf_counter()
    found = upkeep.fetch_hub_models(["slow/hub-model", "broken/hub-model", "good/hub-model"],
                                 timeout=0.3)
    assert time.perf_counter() - start < 2.5  # the slow one did not hold the start-up
    assert found == {"good/hub-model": str(ROOT / "checkpoints" / "mnist-linear")}
    skipped = [r.getMessage() for r in caplog.records if "skipping Hub model" in r.getMessage()]
    assert len(skipped) == 2 and "within 0.3 s" in skipped[0] and "could not fetch" in skipped[1]


def test_explanations_share_files_and_gradio_deletes_them(client, tmp_path):
    from gradio_client import handle_file

    before = {p for p in (upkeep.upload_folder() / "results").glob("*.png")}
    for _ in range(3):
        client.predict(handle_file(ON_DISK), "mnist-cnn", "gradcam", None, api_name="/explain")
    made = {p for p in (upkeep.upload_folder() / "results").glob("*.png")} - before
    assert len(made) <= 1  # the same answer three times is one file
    tracked = set().union(*app.demo.temp_file_sets)
    assert all(str(p) in tracked for p in made)  # deleted on Gradio's schedule, and at exit
    assert app.demo.delete_cache == (upkeep.CACHE_SWEEP_S, upkeep.CACHE_AGE_S)


def test_prune_keeps_the_folder_within_its_budget(tmp_path):
    def make(name: str, size: int, mtime: float) -> Path:
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * size)
        os.utime(path, (mtime, mtime))
        return path
    leftover = make("old/upload.png", 1000, time.time() - 3600)  # an earlier run's: deleted
    time.sleep(0.05)
    start = time.time()  # the server starts
    # cached by this run as a copy that keeps its shipped file's old modification time: kept
    example = make("example.png", 1000, start - 3600)
    uploads = [make(f"h{k}/upload.bin", 10_000, start + k) for k in range(20)]
    left = upkeep.prune(tmp_path, max_bytes=55_000, started=start, max_age=0.02)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert left == sum(p.stat().st_size for p in files) <= 55_000
    assert example in files and leftover not in files
    assert uploads[-1] in files and uploads[0] not in files  # the oldest uploads go first
    assert len(files) == 1 + 5


@pytest.mark.parametrize("bad", [b"", b"hello, I am text", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_an_upload_that_is_not_an_image_reaches_the_message(tmp_path, bad):
    from gradio.data_classes import ImageData

    path = tmp_path / "photo.png"
    path.write_bytes(bad)
    upload = app.image_upload()
    given = upload.preprocess(ImageData(path=str(path), orig_name="photo.png"))
    shown = app.analyse(given, "fashion-mnist-cnn", "Saliency", app.PREDICTED, False,
                        "fashion-mnist")
    assert "not an image" in shown.message and shown.probs is None


def test_refused_requests_log_one_line_and_no_traceback(client, capfd):
    from gradio_client import handle_file

    capfd.readouterr()
    for image, model in [("/etc/hostname", "mnist-cnn"), (handle_file(ON_DISK), "mnist-nope")]:
        with pytest.raises(Exception):
            client.predict(image, model, api_name="/classify")
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
