"""What one more element costs a rerun in the browser: benchmarks/minimal_app/elements.py with
N elements (a title, a button, then rows of two columns holding a metric and a caption), rerun by
its button in headless Chromium, N interleaved, timed as bench_browser.py times an interaction
(app connected, script not running, page drawn); the elements sent per rerun are counted from the
websocket.

    python benchmarks/bench_browser_elements.py [--runs 10] [--sizes 6,26,56,106]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bench_browser as bb
import common

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sizes", default="6,26,56,106")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path("/tmp") / "ctm-bench-elements"
    tmp.mkdir(exist_ok=True)
    process, url, log = bb.start_streamlit(
        "benchmarks/minimal_app/elements.py", {}, tmp / "elements.log"
    )
    times: dict[int, list[float]] = {n: [] for n in sizes}
    sent: dict[int, list[int]] = {n: [] for n in sizes}
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=bb.CHROMIUM, args=["--no-sandbox", "--headless"]
            )
            context = browser.new_context(viewport=bb.VIEWPORT)
            context.add_init_script(bb.OBSERVER)
            tab = context.new_page()
            tab.set_default_timeout(bb.TIMEOUT_S * 1000)
            elements = bb.Elements(tab)

            def rerun() -> None:
                tab.get_by_role("button", name="Rerun").click()

            for run in range(args.runs + 1):  # the first round warms up
                for n in sizes:
                    bb.navigate(tab, f"{url}/?n={n}", "[data-testid=stMain] h1")
                    seconds = bb.act(tab, rerun, "[data-testid=stMain] h1")
                    if run:
                        times[n].append(seconds)
                        sent[n].append(elements.sent)
            browser.close()
    finally:
        bb.stop(process, log)
    rows = [
        f"| {n} | {common.median(sent[n]):.0f} | {common.median(times[n]):.3f} s | "
        f"{common.percentile(times[n], 95):.3f} s |"
        for n in sizes
    ]
    first, last = sizes[0], sizes[-1]
    slope = (common.median(times[last]) - common.median(times[first])) / (
        common.median(sent[last]) - common.median(sent[first])
    )
    print(
        "\n".join(
            [
                "| elements on the page | elements sent per rerun | rerun median | p95 |",
                "| --- | --- | --- | --- |",
                *rows,
                "",
                (
                    f"{slope * 1000:.1f} ms per element sent ({first} → {last} elements, "
                    f"medians, {args.runs} runs)."
                ),
            ]
        )
    )


if __name__ == "__main__":
    sys.exit(main())
