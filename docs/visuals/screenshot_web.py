"""Screenshot of the web page, taken by Debian's chromium (headless) through Playwright.

    latentspace serve demo-index --web-port 8080 &
    python docs/visuals/screenshot_web.py "http://127.0.0.1:8080/?id=42" docs/visuals/web-page.png

Waits until the result grid and its thumbnails are drawn; ``--width``/``--height`` set the window.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=760)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    profile = tempfile.mkdtemp(prefix="latentspace-shot-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=args.chromium, args=ARGS, headless=True,
                viewport={"width": args.width, "height": args.height})
            page = context.new_page()
            page.goto(args.url)
            page.wait_for_selector(".view:not([hidden]) .tile img, .view:not([hidden]) .atlas img")
            page.wait_for_function("() => [...document.images].every(img => img.complete)")
            page.screenshot(path=args.out)
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
