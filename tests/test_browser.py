"""End to end in a real headless Chromium: upload a real clip, ask, click a citation, watch; then
open the video's page by URL and click a chapter."""

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import BUNNY_CUES, VIDRAG, write_srt
from ingest.pipeline import content_id
from openai_stub import StubVLM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # no sandbox as root; and no calls home, which this closed network refuses
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]
REPLY = "The little bird wakes up and stretches [00:05], and the big rabbit leaves his burrow [00:20]."


# The sidebar's uploader by its test id: the chat input has a file input of its own.
UPLOADER = '[data-testid="stSidebar"] [data-testid="stFileUploader"] input[type="file"]'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(tmp_path, model_env):
    """The app, started the way `make run` starts it, on a free port, against a loopback VLM."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (.ci/run does)")
    pytest.importorskip("playwright", reason="dev dependency playwright not installed")
    port = _free_port()
    with StubVLM(reply=REPLY) as stub:
        env = {**os.environ, **model_env, "VIDRAG_DATA_DIR": str(tmp_path / "data"),
               "VIDRAG_VLM_BASE_URL": stub.base_url}
        env.pop("PYTHONPATH", None)
        server = subprocess.Popen(  # the installed command, from a folder outside the checkout
            [VIDRAG, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "w"),
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                        break
                except OSError:
                    time.sleep(0.5)
            else:
                raise AssertionError("the app did not start: " + (tmp_path / "server.log").read_text()[-2000:])
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a loaded machine: don't leave it running
                server.kill()
                server.wait()


def click_until(button, arrived) -> None:
    """Click, then wait for what the click brings. A click that lands while the page is still
    rerunning is dropped: once more."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(2):
        button.click()
        try:
            arrived()
            return
        except (AssertionError, PlaywrightError):
            if attempt:
                raise


def test_upload_ask_and_jump_to_the_moment(app_url, shared_media, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    clip = tmp_path / "big_buck_bunny_0_30.webm"
    shutil.copyfile(shared_media / "big_buck_bunny_0_30.webm", clip)
    subtitles = write_srt(tmp_path / "big_buck_bunny_0_30.srt", BUNNY_CUES)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.locator(UPLOADER).set_input_files([str(clip), str(subtitles)])
        expect(page.get_by_text("big_buck_bunny_0_30.webm: ready")).to_be_visible(timeout=180_000)

        question = page.get_by_placeholder("Ask about your videos")
        question.fill("When does the little bird stretch?")
        question.press("Enter")
        expect(page.get_by_text("and the big rabbit leaves his burrow [00:20]")).to_be_visible(timeout=60_000)
        thumbnails = "document.images.length >= 4 && [...document.images].every(i => i.complete && i.naturalWidth)"
        page.wait_for_function(thumbnails, timeout=30_000)
        page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
        if os.environ.get("VIDRAG_SCREENSHOT"):  # how the README's picture is made
            page.screenshot(path=os.environ["VIDRAG_SCREENSHOT"])

        video = page.locator("video")
        click_until(page.get_by_role("button", name="▶ [00:20]"), lambda: expect(video).to_be_visible(timeout=30_000))
        page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=30_000)
        assert abs(video.evaluate("v => v.currentTime") - 20) < 1
        page.screenshot(path=str(tmp_path / "playing.png"))

        # The video's own page, by URL: its chapters (the stub VLM wrote them after the upload) seek.
        page.goto(f"{app_url}/video?video={content_id(clip)}")
        # a chapter after the first: waiting for it waits for the whole list, not the first button drawn
        chapter = page.get_by_role("button", name=re.compile(r"^(?!00:00)\d\d:\d\d Part \d$")).last
        expect(chapter).to_be_visible(timeout=60_000)
        minutes, seconds = chapter.inner_text().split()[0].split(":")
        chapter_s = int(minutes) * 60 + int(seconds)
        click_until(chapter, lambda: page.wait_for_function(
            f"(v => v && v.readyState >= 1 && Math.abs(v.currentTime - {chapter_s}) < 1)"
            "(document.querySelector('video'))", timeout=30_000))
        assert abs(page.locator("video").evaluate("v => v.currentTime") - chapter_s) < 1
        page.screenshot(path=str(tmp_path / "video_page.png"), full_page=True)
        browser.close()


HOSTILE_NAME = "[x](https://example.com)<b>y</b>.mp4"


@pytest.fixture
def no_descriptions(monkeypatch):
    """This test is about names, not frame descriptions: the app starts without the describe stage."""
    monkeypatch.setenv("VIDRAG_DESCRIBE", "off")


def test_a_hostile_upload_name_shows_literally(no_descriptions, app_url, tmp_path):
    """An upload named like markdown, HTML and a URL shows as those characters, everywhere it
    appears (upload status, library): no <a>, <img> or <b> comes from it."""
    from playwright.sync_api import expect, sync_playwright

    from conftest import make_video

    clip = make_video(tmp_path / "clip.mp4", 3, audio=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.locator(UPLOADER).set_input_files(
            [{"name": HOSTILE_NAME, "mimeType": "video/mp4", "buffer": clip.read_bytes()}])
        ready = page.get_by_text("y</b>.mp4: ready")
        expect(ready).to_be_visible(timeout=180_000)
        expect(page.get_by_text("Delete").first).to_be_visible(timeout=30_000)  # the library shows it too
        text = page.evaluate("document.body.innerText").replace("\u2060", "")
        assert text.count(HOSTILE_NAME) >= 2, text  # the upload's status label and its library entry
        injected = page.evaluate("""() => ({
            links: [...document.querySelectorAll('a')].map(a => a.href).filter(h => h.includes('example.com')),
            images: [...document.querySelectorAll('img')].map(i => i.src).filter(s => s.includes('example.com')),
            bold: [...document.querySelectorAll('b')].filter(b => b.textContent.trim() === 'y').length,
        })""")
        assert injected == {"links": [], "images": [], "bold": 0}
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
        browser.close()
