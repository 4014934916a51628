"""The app: its prediction function on real clips, every kind of bad input, the real server
through gradio_client (and under load), and a real browser moving the real sliders."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import app  # noqa: E402
from elasticast_lite.audio import load_audio  # noqa: E402
from elasticast_lite.compare import Settings, spectrogram  # noqa: E402

LONG_VOICE = str(ROOT / "data_samples" / "voices_en_US_f_Allison_26s.flac")
FLUTE = str(ROOT / "data_samples" / "instruments_flute_10s.flac")
CHROMIUM = "/usr/bin/chromium"


def labels(out, kind):
    return next(v for v in out["views"].values() if v.kind == kind)


def same_top(a, b) -> bool:
    return [x for x, _ in a] == [x for x, _ in b] and np.allclose([p for _, p in a],
                                                                   [p for _, p in b], atol=1e-5)


def test_predict_on_real_clips_matches_the_models():
    out = app.predict(LONG_VOICE, "voices", None, 1.0, "frame shift", "paper")
    models = app.models_of("voices")
    wav, _ = load_audio(LONG_VOICE)
    spec = spectrogram(wav, Settings())
    for name, v in out["views"].items():
        model = models[name]
        kw = {} if v.kind == "ElasticAST" else {"frames": spec.shape[0]}
        probs = model([spec], **kw)[0].softmax(-1)
        best = probs.argsort(descending=True)[:5]
        assert [label for label, _ in v.top] == [model.classes[int(i)] for i in best]
        assert np.allclose([p for _, p in v.top], probs[best].tolist(), atol=1e-6)
    assert out["clip_seconds"] == pytest.approx(26.0, abs=0.01)
    assert app.true_label(LONG_VOICE) == "en_US_f_Allison"


def test_true_label_goes_by_the_audio_not_the_file_name(tmp_path):
    """An upload of an example under any name shows its label; other audio under an
    example's name shows none (the page would otherwise claim a label it cannot know)."""
    renamed = tmp_path / "my_recording.flac"
    renamed.write_bytes(Path(LONG_VOICE).read_bytes())
    assert app.true_label(renamed) == "en_US_f_Allison"
    impostor = tmp_path / Path(LONG_VOICE).name
    wav, rate = sf.read(LONG_VOICE)
    sf.write(impostor, wav[: rate * 3], rate)
    assert app.true_label(impostor) == ""
    same_size = bytearray(renamed.read_bytes())
    same_size[-1] ^= 1
    impostor.write_bytes(same_size)
    assert app.true_label(impostor) == ""
    assert app.true_label(tmp_path / "missing.wav") == ""


def test_pad_protocol_cuts_what_is_past_its_training_length():
    """Under `pad` the 400-frame AST cannot tell 26 s from its first 4 s: the rest is cut,
    and the token counts say so; ElasticAST reads the whole clip and its answer moves."""
    whole = app.predict(LONG_VOICE, "voices", None, 1.0, "frame shift", "pad")
    first = app.predict(LONG_VOICE, "voices", 4.2, 1.0, "frame shift", "pad")
    ast, ast4 = labels(whole, "AST"), labels(first, "AST")
    assert same_top(ast.top, ast4.top)
    assert ast.tokens == {"real": 200, "padding": 0, "cut": (2592 - 400) // 16 * 8,
                          "computed": 200}
    el, el4 = labels(whole, "ElasticAST"), labels(first, "ElasticAST")
    assert el.tokens["real"] == 2592 // 16 * 8 and el.tokens["cut"] == 0
    assert not same_top(el.top, el4.top)
    short = labels(app.predict(LONG_VOICE, "voices", 1.0, 1.0, "frame shift", "pad"), "AST")
    assert short.tokens["padding"] == (400 - 96) // 16 * 8 and short.padded == 400 - 96


def test_protocols_change_the_ast_only():
    outs = {p: app.predict(FLUTE, "instruments", 8.0, 2.0, "frame shift", p)
            for p in ("paper", "pad", "windows")}
    elastic = [labels(o, "ElasticAST").top for o in outs.values()]
    assert same_top(elastic[0], elastic[1]) and same_top(elastic[0], elastic[2])
    pooled = app.predict(FLUTE, "instruments", 8.0, 2.0, "average pooling", "paper")
    assert labels(pooled, "ElasticAST").frame_ms == 20.0
    # the same frame rate as r = 2, from other features: another answer
    assert not same_top(labels(pooled, "ElasticAST").top, elastic[0])


def test_windows_read_the_whole_clip_in_overlapping_windows():
    v = labels(app.predict(LONG_VOICE, "voices", None, 1.0, "frame shift", "windows"), "AST")
    assert v.windows[0][0] == 0 and v.windows[-1][1] == 2592
    assert all(b - a == 400 for a, b in v.windows)
    assert v.tokens["cut"] == 0 and v.tokens["computed"] == len(v.windows) * 200


def test_curves_follow_each_models_whole_clip_answer():
    out = app.predict(FLUTE, "instruments", None, 1.0, "frame shift", "pad")
    for name, view in out["views"].items():
        curve = out["curves"][name]
        assert curve["label"] == view.top[0][0]
        whole = curve["lengths"][-1]
        assert whole[0] == pytest.approx(10.0) and whole[1] == pytest.approx(view.top[0][1],
                                                                             abs=1e-5)
        assert [r for r, _ in curve["resolutions"]] == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]


# ----------------------------------------------------------------------------- bad input

def write(path, data, sr=16000, **kw):
    sf.write(str(path), data, sr, **kw)
    return str(path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    voice, _ = sf.read(LONG_VOICE, dtype="float32")
    (d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + rng.bytes(300))
    (d / "notes.txt").write_text("this is not audio\n")
    nan = np.full(16000, np.nan, dtype=np.float32)
    return {
        "bad": {
            "empty": write(d / "empty.wav", np.zeros(0, np.float32)),
            "silent": write(d / "silent.wav", np.zeros(32000, np.float32)),
            "all-NaN": write(d / "nan.wav", nan, subtype="FLOAT"),
            "one sample": write(d / "one.wav", np.array([0.5], np.float32)),
            "corrupt": str(d / "corrupt.wav"),
            "unsupported format": str(d / "notes.txt"),
            "missing": str(d / "never_written.wav"),
            "over ten minutes": write(d / "eleven.wav", np.zeros(601 * 16000, np.int16) + 99),
            "too short to pool": write(d / "short.wav", voice[:8800]),  # 0.55 s
        },
        "ok": {
            "ten minutes": write(d / "ten_minutes.wav", np.tile(voice, 24)[: 600 * 16000]),
            "stereo": write(d / "stereo.wav", np.stack([voice[:80000], voice[:80000]], 1)),
            "8-bit": write(d / "eight_bit.wav", voice[:80000], subtype="PCM_U8"),
            "44.1 kHz": write(d / "cd.flac", np.interp(np.arange(0, 80000, 16000 / 44100),
                                                        np.arange(80000), voice[:80000]),
                              sr=44100),
        },
    }


EXPECTED = {"empty": "no audio", "silent": "silent", "all-NaN": "NaN", "one sample": "too short",
            "corrupt": "cannot decode", "unsupported format": "cannot decode",
            "missing": "cannot read", "over ten minutes": "longer than ten minutes",
            "too short to pool": "after average pooling"}


def test_every_bad_input_gives_a_message_and_no_prediction(inputs):
    for what, path in inputs["bad"].items():
        message, *outputs = app.respond(path, "voices", 5.0, 4.0, "average pooling", "paper")
        assert message.startswith("⚠️") and EXPECTED[what] in message, (what, message)
        assert "went wrong" not in message and "Traceback" not in message, what
        assert outputs == [None] * 5, what
    message, *_ = app.respond(None, "voices", 5.0, 1.0, "frame shift", "paper")
    assert "Pick an example" in message
    message, *_ = app.respond(FLUTE, "voices", 0.5, 4.0, "frame shift", "paper")
    assert "too short" in message  # 0.5 s at r = 4 is less than one patch


def test_unusual_but_valid_input_is_predicted_and_the_conversion_named(inputs):
    said = {"stereo": "2 channels mixed to mono", "8-bit": "8-bit samples scaled",
            "44.1 kHz": "44.1 kHz resampled to 16 kHz", "ten minutes": "first 30 s"}
    original = app.predict(LONG_VOICE, "voices", 5.0)
    for what, path in inputs["ok"].items():
        message, ast, elastic, *_ = app.respond(path, "voices", 5.0, 1.0, "frame shift", "paper")
        assert not message.startswith("⚠️") and said[what] in message, (what, message)
        assert len(ast) == 5 and len(elastic) == 5, what
        if what != "ten minutes":  # the same first 5 s of voice, converted back and forth
            assert next(iter(elastic)) == labels(original, "ElasticAST").top[0][0], what
    message, *_ = app.respond(inputs["ok"]["ten minutes"], "voices", 30.0, 1.0, "frame shift",
                              "pad")
    assert "600.0 s long" in message and "first 30 s" in message


# ----------------------------------------------------------------------------- real server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    demo = app.build()
    _, url, _ = app.launch(demo, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    assert url.startswith("http://127.0.0.1:")
    yield url
    demo.close()


@pytest.fixture()
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False, analytics_enabled=False)


def ask(client, path, *settings):
    from gradio_client import handle_file

    return client.predict(handle_file(path), *settings, api_name="/predict")


def shown(label_value) -> list[tuple[str, float]]:
    """A gr.Label value as the client receives it, as (label, confidence) best first."""
    return [(c["label"], c["confidence"]) for c in label_value["confidences"]]


def test_client_gets_what_the_prediction_function_gives(client):
    settings = ("instruments", 6.0, 2.0, "frame shift", "pad")
    message, ast, elastic, *_ = ask(client, FLUTE, *settings)
    direct = app.predict(FLUTE, *settings)
    assert same_top(shown(ast), labels(direct, "AST").top)
    assert same_top(shown(elastic), labels(direct, "ElasticAST").top)
    assert "True label: **flute**" in message


def test_server_survives_bad_uploads(client, inputs):
    for what in ("corrupt", "unsupported format", "all-NaN"):
        message, *rest = ask(client, inputs["bad"][what], "voices", 5.0, 1.0, "frame shift",
                             "paper")
        assert message.startswith("⚠️"), what
    message, ast, *_ = ask(client, LONG_VOICE, "voices", 5.0, 1.0, "frame shift", "paper")
    assert not message.startswith("⚠️") and len(ast["confidences"]) == 5


def test_uploads_over_the_size_cap_are_refused(client, tmp_path):
    big = write(tmp_path / "big.wav", np.zeros(14_000_000, np.float32), subtype="FLOAT")
    with pytest.raises(Exception, match="(?i)size|large|exceed"):
        ask(client, big, "voices", 5.0, 1.0, "frame shift", "paper")


def test_load_200_requests_8_at_a_time(server):
    from gradio_client import Client

    rng = np.random.default_rng(0)
    jobs = [(str(ROOT / "data_samples" / f), float(s), float(r), p)
            for f, s, r, p in zip(
                rng.choice(["instruments_flute_10s.flac", "instruments_piano_24s.flac"], 200),
                rng.uniform(1, 24, 200).round(1), rng.choice([1.0, 2.0, 3.0, 4.0], 200),
                rng.choice(["paper", "pad", "windows"], 200))]
    local = threading.local()  # one client per worker: each sends its requests in turn

    def one(i):
        if not hasattr(local, "client"):
            local.client = Client(server, verbose=False, analytics_enabled=False)
        f, s, r, p = jobs[i]
        message, ast, elastic, *_ = ask(local.client, f, "instruments", s, r, "frame shift", p)
        return message, ast, elastic

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(200)))
    assert all(not m.startswith("⚠️") and len(a["confidences"]) == 5 == len(e["confidences"])
               for m, a, e in results)
    for i in range(0, 200, 40):  # answers under load are the answers of the function
        f, s, r, p = jobs[i]
        direct = app.predict(f, "instruments", s, r, "frame shift", p)
        assert same_top(shown(results[i][1]), labels(direct, "AST").top)
        assert same_top(shown(results[i][2]), labels(direct, "ElasticAST").top)


# ----------------------------------------------------------------------------- real browser

def test_browser_shows_the_prediction_functions_answers(server, tmp_path):
    if not Path(CHROMIUM).exists():  # `make test` installs it and sets the variable
        if os.environ.get("ELASTICAST_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: run `make system-deps`")
        pytest.skip("needs Debian chromium (make system-deps)")
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("ELASTICAST_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    def expect_panels(page, settings, pair="voices"):
        """Both label panels show the prediction function's top 5 for ``settings``."""
        out = app.predict(LONG_VOICE, pair, *settings)
        for elem, kind in (("#ast-label", "AST"), ("#elastic-label", "ElasticAST")):
            text = "".join(f"{label}\n{round(100 * p)}%\n" for label, p in
                           labels(out, kind).top)
            expect(page.locator(elem)).to_contain_text(text.strip(), timeout=60_000)

    def slide(page, elem, fraction):
        """Click the slider's track at ``fraction`` of its width, like a user dragging it."""
        box = page.locator(f"{elem} input[type=range]").bounding_box()
        page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
        value = page.locator(f"{elem} input[type=number]")
        expect(value).not_to_have_value("", timeout=5_000)
        return float(value.input_value())

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1700})
        page.goto(server)
        page.click("#example input")
        page.locator("ul[role=listbox] li", has_text="Allison_26s").click()
        expect(page.locator("#message")).to_contain_text("Hearing 26.0 s", timeout=60_000)
        expect_panels(page, (26.0, 1.0, "frame shift", "paper"))

        seconds = slide(page, "#seconds", 0.2)
        assert 4 < seconds < 7
        expect(page.locator("#message")).to_contain_text(f"Hearing {seconds:.1f} s")
        expect_panels(page, (seconds, 1.0, "frame shift", "paper"))

        r = slide(page, "#resolution", 0.5)
        assert 2 < r < 3
        expect(page.locator("#message")).to_contain_text(f"r = {r:g}")
        expect_panels(page, (seconds, r, "frame shift", "paper"))

        page.locator("#protocol label", has_text="pad").click()
        expect(page.locator("#message")).to_contain_text("protocol pad")
        expect_panels(page, (seconds, r, "frame shift", "pad"))
        expect(page.locator("#ast-plot")).to_contain_text("trimmed/padded")
        expect(page.locator("#curves")).to_contain_text("seconds heard")
        page.screenshot(path=str(shots / "app.png"), full_page=True)

        page.locator("#method label", has_text="average pooling").click()
        factor = round(r + 0.01)  # the slider snaps to the nearest integer factor
        expect(page.locator("#message")).to_contain_text(f"average pooling by {factor}")
        expect_panels(page, (seconds, factor, "average pooling", "pad"))
        page.locator("#pair label", has_text="instruments").click()
        expect_panels(page, (seconds, factor, "average pooling", "pad"), "instruments")
        browser.close()
