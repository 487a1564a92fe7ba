#!/usr/bin/env python3
"""Drives `nmrperp dashboard` in headless Chromium (Selenium + chromium-driver).

Used by the Swift browser tests (Tests/PerpDashboardTests/DashboardBrowserTests.swift) and by
`nmrperp bench dashboard`. It talks to its caller on stdin/stdout, one JSON object per line, so
the caller can change a session between steps:

  test mode:  loads the page on a session, checks there are no console errors, prints the
              numbers it shows ({"step":"loaded",...}); waits for "new-row" on stdin, then for a
              new journal row to appear without a reload ({"step":"updated",...}); waits for "kill"
              on stdin, clicks "Stop and flatten" ({"step":"killed",...}). Screenshots go to
              --screenshots.
  bench mode: loads the page --loads times in fresh tabs and prints the time from navigation to
              the first view being drawn ({"step":"bench","first_view_ms":[...]}).

Exit status: 0 done, 1 a check failed (the reason on stderr), 3 the browser could not start.
"""
import argparse
import json
import os
import shutil
import sys
import time


def say(**fields):
    print(json.dumps(fields), flush=True)


def fail(message):
    print(message, file=sys.stderr, flush=True)
    sys.exit(1)


def start_browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        print("selenium is not installed (pip install selenium)", file=sys.stderr)
        sys.exit(3)
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        print("chromium or chromedriver is missing (apt-get install chromium chromium-driver)", file=sys.stderr)
        sys.exit(3)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as error:  # the browser itself failed to start
        print(f"chromium did not start: {error}".splitlines()[0], file=sys.stderr)
        sys.exit(3)


def wait_for(driver, script, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.02)
    fail(f"timed out after {timeout} s waiting for {what}")


def console_errors(driver):
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def field(driver, name):
    elements = driver.find_elements("css selector", f"[data-field='{name}']")
    return elements[0].text if elements else None


def top_seq(driver):
    return driver.execute_script(
        "const r=document.querySelector('#journal tr[data-seq]');return r?Number(r.dataset.seq):null")


def test_mode(args):
    driver = start_browser()
    try:
        driver.get(f"{args.url}#{args.session}")
        # Chromium's start and the first fetches share two cores with the rest of the suite in
        # CI: one run took over 15 s there, so the first view gets 45 (the test's step limit is 60).
        wait_for(driver, "return document.body.dataset.ready==='1'", 45, "the first view")
        wait_for(driver, f"return document.querySelector(\"nav button[data-id='{args.session}'].sel\")!==null", 15,
                 "the session to be selected")
        errors = console_errors(driver)
        if errors:
            fail("console errors: " + " | ".join(errors))
        names = ["equity", "realized_pnl", "unrealized_pnl", "fees", "funding_paid", "max_drawdown", "state"]
        driver.save_screenshot(os.path.join(args.screenshots, "dashboard-loaded.png"))
        svg = driver.execute_script("return document.querySelectorAll('main svg polyline').length")
        axes = driver.execute_script("return Array.from(document.querySelectorAll('main svg text')).map(t=>t.textContent)")
        say(step="loaded", fields={name: field(driver, name) for name in names}, charts=svg, axis_labels=axes[:20],
            top_seq=top_seq(driver), title=driver.title)
        # A new journal row appears without a reload.
        if sys.stdin.readline().strip() != "new-row":
            fail("expected new-row on stdin")
        before = top_seq(driver)
        navigation = driver.execute_script("return performance.timeOrigin")
        started = time.monotonic()
        wait_for(driver, f"const r=document.querySelector('#journal tr[data-seq]');return r&&Number(r.dataset.seq)>{before if before is not None else -1}",
                 20, "a new journal row")
        elapsed = time.monotonic() - started
        if driver.execute_script("return performance.timeOrigin") != navigation:
            fail("the page reloaded")
        driver.save_screenshot(os.path.join(args.screenshots, "dashboard-updated.png"))
        say(step="updated", top_seq=top_seq(driver), seconds=round(elapsed, 3), fields={name: field(driver, name) for name in names})
        # The kill switch.
        if sys.stdin.readline().strip() != "kill":
            fail("expected kill on stdin")
        buttons = driver.find_elements("css selector", "button.kill")
        if not buttons:
            fail("no kill switch on the page")
        buttons[0].click()
        alert = driver.switch_to.alert  # the confirmation
        alert.accept()
        # The answer follows a durable write on the server: on a loaded two-core CI machine it
        # has taken more than 5 s, so wait up to 20 (the test's own limit for a step is 60).
        deadline = time.monotonic() + 20
        message = None
        while time.monotonic() < deadline and message is None:
            try:
                answer = driver.switch_to.alert
                message = answer.text
                answer.accept()
            except Exception:
                time.sleep(0.05)
        if message is None:
            fail("the kill switch gave no answer")
        time.sleep(0.3)
        driver.save_screenshot(os.path.join(args.screenshots, "dashboard-killed.png"))
        errors = console_errors(driver)
        if errors:
            fail("console errors: " + " | ".join(errors))
        say(step="killed", message=message)
    finally:
        driver.quit()


def bench_mode(args):
    driver = start_browser()
    results = []
    try:
        for index in range(args.loads):
            driver.get("about:blank")
            driver.get(f"{args.url}#{args.session}")
            wait_for(driver, "return document.body.dataset.ready==='1'", 30, "the first view")
            results.append(driver.execute_script("return window.nmrperpFirstView"))
            if index == 0:
                driver.save_screenshot(os.path.join(args.screenshots, "dashboard-bench.png"))
        errors = console_errors(driver)
        say(step="bench", first_view_ms=results, console_errors=errors)
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--mode", choices=["test", "bench"], default="test")
    parser.add_argument("--screenshots", default=".")
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    if args.mode == "test":
        test_mode(args)
    else:
        bench_mode(args)


if __name__ == "__main__":
    main()
