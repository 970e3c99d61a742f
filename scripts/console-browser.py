#!/usr/bin/env python3
"""Drives a headless Chromium over the DevTools protocol (a pipe, no network port) for the console's
browser test: opens a page, waits until a JavaScript condition holds, evaluates a JavaScript report,
prints it as one JSON line on stdout, and saves a full-page PNG screenshot.

    console-browser.py --url URL --until JS --report JS --screenshot PATH [--timeout SECONDS]

Exit status 0 with the report; 1 when the condition did not hold in time (the report and the
screenshot are still taken, to show what the page looked like); 2 when Chromium could not be driven.
Python's standard library only.
"""
import argparse, base64, json, os, shutil, subprocess, sys, tempfile, time


class Browser:
    """One Chromium process; commands go to its fd 3, answers and events come from its fd 4, each a
    JSON message ended by a NUL byte."""

    def __init__(self, binary, deadline):
        self.deadline = deadline
        self.profile = tempfile.mkdtemp(prefix="sluice-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # The child sees the read end of our writes as fd 3 and the write end of its answers as fd 4
        # (kept open: close_fds runs after preexec_fn, so 3 and 4 are listed in pass_fds too).
        def child_fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)
        self.process = subprocess.Popen(
            [binary, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
             "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
             "--user-data-dir=" + self.profile, "about:blank"],
            pass_fds=(to_browser_r, from_browser_w, 3, 4), preexec_fn=child_fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def _read(self):
        import select
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe: " + self.process.stderr.read().decode(errors="replace")[-2000:])
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def evaluate(browser, session, expression):
    result = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session)
    if "exceptionDetails" in result:
        raise RuntimeError("page script failed: " + json.dumps(result["exceptionDetails"])[:1000])
    return result.get("result", {}).get("value")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--until", required=True, help="a JavaScript expression; waits until it is true")
    parser.add_argument("--report", required=True, help="a JavaScript expression whose value is printed as JSON")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--width", type=int, default=1360)
    args = parser.parse_args()

    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not binary:
        print("console-browser: chromium is not installed (scripts/install-deps.sh --tests installs it)", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.timeout
    browser = Browser(binary, deadline + 10)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.call("Emulation.setDeviceMetricsOverride", {"width": args.width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
        browser.call("Page.enable", {}, session)
        browser.call("Page.navigate", {"url": args.url}, session)
        # The condition and the report run in one evaluation, so no snapshot is drawn between them.
        atomic = "(() => { try { if (!(" + args.until + ")) return null; } catch (e) { return null; } return JSON.stringify(" + args.report + "); })()"
        report = None
        while time.monotonic() < deadline:
            try:
                report = evaluate(browser, session, atomic)
            except RuntimeError:
                report = None  # the page may not have its script yet
            if report is not None:
                break
            time.sleep(0.1)  # polling the page: there is no event for "the DOM now shows X"
        held = report is not None
        if not held:
            report = evaluate(browser, session, "JSON.stringify(" + args.report + ")")
        metrics = browser.call("Page.getLayoutMetrics", {}, session)
        height = int(metrics.get("cssContentSize", metrics.get("contentSize", {})).get("height", 900))
        browser.call("Emulation.setDeviceMetricsOverride", {"width": args.width, "height": max(600, min(height, 6000)), "deviceScaleFactor": 1, "mobile": False}, session)
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(report)
        return 0 if held else 1
    except (RuntimeError, TimeoutError, OSError) as e:
        print("console-browser: " + str(e), file=sys.stderr)
        return 2
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
