"""Headless Chromium driven over the DevTools protocol (no Selenium), with a fake microphone.

Chromium runs in its own process group and is killed as a group: it forks a zygote, renderers
and utility processes, none of which may outlive a test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

AXE_JS = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"


#: key -> (code, windowsVirtualKeyCode, text typed)
_KEYS = {
    "Tab": ("Tab", 9, ""),
    "Enter": ("Enter", 13, "\r"),
    "Space": ("Space", 32, " "),
    "Escape": ("Escape", 27, ""),
}


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    def __init__(
        self,
        binary: str,
        *,
        fake_mic_wav: Path | None = None,
        fake_ui: bool = True,
        fake_devices: bool = True,
    ):
        self.binary = binary
        self.fake_mic_wav = fake_mic_wav
        #: Without it, microphone permission is what ``Browser.setPermission`` says.
        self.fake_ui = fake_ui
        #: Without them Chromium sees this machine's real devices (here: no microphone at all).
        self.fake_devices = fake_devices
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-"))
        self.proc: asyncio.subprocess.Process | None = None
        self._ws: Any = None
        self._ids = itertools.count(1)
        self.pids: list[int] = []

    async def open(self, url: str, timeout_s: float = 30.0) -> None:
        args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--autoplay-policy=no-user-gesture-required",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
        ]
        if self.fake_devices:
            args.append("--use-fake-device-for-media-stream")
        if self.fake_ui:
            args.append("--use-fake-ui-for-media-stream")
        if self.fake_mic_wav is not None:
            args.append(f"--use-file-for-fake-audio-capture={self.fake_mic_wav}%noloop")
        self.proc = await asyncio.create_subprocess_exec(
            self.binary,
            *args,
            url,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with httpx.AsyncClient() as client:
            while True:
                pages = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
                page = next((p for p in pages if p.get("type") == "page"), None)
                if page is not None:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("chromium opened no page")
                await asyncio.sleep(0.1)
        self._ws = await websockets.connect(page["webSocketDebuggerUrl"], max_size=None)

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One DevTools command and its result (events that arrive meanwhile are dropped)."""
        msg_id = next(self._ids)
        await self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        while True:
            reply = json.loads(await self._ws.recv())
            if reply.get("id") == msg_id:
                break
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def evaluate(self, expression: str, *, user_gesture: bool = False) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {
                "expression": expression,
                "returnByValue": True,
                "awaitPromise": True,
                "userGesture": user_gesture,
            },
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    async def press(self, key: str) -> None:
        """A real key press (keyDown + keyUp), as a keyboard-only candidate makes it."""
        code, vk, text = _KEYS[key]
        base = {"key": key if key != "Space" else " ", "code": code, "windowsVirtualKeyCode": vk}
        down = {**base, "type": "keyDown", **({"text": text} if text else {})}
        await self.send("Input.dispatchKeyEvent", down)
        await self.send("Input.dispatchKeyEvent", {**base, "type": "keyUp"})

    async def tab_to(self, element_id: str, limit: int = 30) -> None:
        """Press Tab until ``element_id`` has the focus (fails if it never does)."""
        for _ in range(limit):
            if await self.evaluate(
                f"document.activeElement && document.activeElement.id === {json.dumps(element_id)}"
            ):
                return
            await self.press("Tab")
        raise AssertionError(f"Tab never reached #{element_id}")

    async def navigate(self, url: str) -> None:
        """Load ``url`` in the open page (poll the page's state afterwards)."""
        await self.send("Page.navigate", {"url": url})

    async def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    async def screenshot(self, path: Path) -> None:
        """The whole page (not only what the viewport shows), as a PNG."""
        size = (await self.send("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = await self.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))

    async def offline(self, offline: bool) -> None:
        """Cut (or restore) the page's network, as a dropped Wi-Fi would."""
        await self.send("Network.enable")
        await self.send(
            "Network.emulateNetworkConditions",
            {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )

    async def axe(
        self, *, impacts: tuple[str, ...] = ("serious", "critical")
    ) -> list[dict[str, Any]]:
        """Run axe-core (installed by scripts/setup.sh into tests/js) on the current page.

        Returns the violations of the given impacts, each with its id, impact, help text and the
        selectors of the failing nodes, so a test can print exactly what to fix.
        """
        if not AXE_JS.exists():
            raise RuntimeError(f"axe-core missing at {AXE_JS}: run scripts/setup.sh")
        await self.evaluate(AXE_JS.read_text() + "\n;true")
        found = await self.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ("
            "{id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' '))})))"
        )
        return [v for v in found or [] if v.get("impact") in impacts]

    def group_pids(self) -> list[int]:
        """Every live process in chromium's group (renderers, zygote, utilities)."""
        if self.proc is None:
            return []
        pgid = self.proc.pid
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                    found.append(int(stat.parent.name))
        return found

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self.proc is not None:
            self.pids = self.group_pids()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
