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


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    def __init__(self, binary: str, *, fake_mic_wav: Path | None = None):
        self.binary = binary
        self.fake_mic_wav = fake_mic_wav
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
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
        ]
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
        """One DevTools command; its result (events arriving meanwhile are dropped)."""
        msg_id = next(self._ids)
        await self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        while True:
            reply = json.loads(await self._ws.recv())
            if reply.get("id") == msg_id:
                result: dict[str, Any] = reply.get("result", {})
                return result

    async def navigate(self, url: str) -> None:
        """Load ``url`` in the open page (poll the page's state afterwards)."""
        await self.send("Page.navigate", {"url": url})

    async def screenshot(self, path: Path, width: int = 1280, height: int = 900) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))

    async def evaluate(self, expression: str, *, user_gesture: bool = False) -> Any:
        params = {
            "expression": expression,
            "returnByValue": True,
            "awaitPromise": True,
            "userGesture": user_gesture,
        }
        result = await self.send("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

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
