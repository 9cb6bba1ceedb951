"""The app as an agent sees it: a real MCP client over streamable HTTP."""
import asyncio
import ast
import base64
import io

import numpy as np
from PIL import Image

from training.handwriting import handwritten_digit
from web.views import data_url

TOOLS = {"classify", "read_number", "explain", "compare", "fool", "check_explanation",
         "correct"}


def drawn(digit: str, seed: int = 0) -> str:
    """A digit drawn with the page's pen, as a PNG data URL (what a canvas gives)."""
    return data_url(handwritten_digit(np.random.default_rng(seed), digit=digit)[0])


def mcp(url: str, calls: list[tuple[str, dict]]):
    """(the tools listed, the result of each call) from one MCP session."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def session():
        async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = (await s.list_tools()).tools
                return tools, [await s.call_tool(name, args) for name, args in calls]

    return asyncio.run(session())


def test_an_mcp_client_lists_the_tools_and_classifies_a_drawn_seven(served):
    url, _ = served
    tools, (seven, web, bad) = mcp(url, [
        ("classify", {"image": drawn("7"), "model": "mnist-cnn"}),
        ("classify", {"image": "https://example.com/seven.png", "model": "mnist-cnn"}),
        ("classify", {"image": drawn("7"), "model": "mnist-nope"})])
    by_name = {t.name: t for t in tools}
    assert TOOLS <= set(by_name)
    schema = by_name["classify"].inputSchema["properties"]
    assert "data URL" in schema["image"]["description"] and schema["model"]["description"]
    assert "Returns" in by_name["classify"].description
    answer = ast.literal_eval(seven.content[0].text)  # the endpoint's dict, as text
    assert not seven.isError and answer["label"] == "7" and answer["model"] == "mnist-cnn"
    assert web.isError and "never fetches" in web.content[0].text  # no request reaches out
    assert bad.isError and "Unknown model" in bad.content[0].text


def test_mcp_explain_returns_an_image_and_read_number_a_number(served, tmp_path):
    import httpx

    url, _ = served
    png = tmp_path / "four.png"
    png.write_bytes(base64.b64decode(drawn("4", seed=1).partition(",")[2]))
    with open(png, "rb") as f:  # a file uploaded to the app, passed by its path
        [uploaded] = httpx.post(f"{url}gradio_api/upload", files={"files": f}).json()
    _, (overlay, number) = mcp(url, [
        ("explain", {"image": drawn("3"), "model": "mnist-cnn", "method": "gradcam"}),
        ("read_number", {"image": uploaded, "model": "mnist-cnn"})])
    assert overlay.content[0].type == "image" and overlay.content[0].mimeType == "image/png"
    picture = Image.open(io.BytesIO(base64.b64decode(overlay.content[0].data)))
    assert picture.size == (280, 280)
    assert ast.literal_eval(number.content[0].text)["number"] == "4"
