"""Print one closing line for CI from every runner's report in a folder.

JUnit XML files (pytest) and vitest/playwright JSON reports are added up into
``N passed, N failed, N skipped``. Exit status 1 if anything failed or nothing ran.
Browser tests that passed only on their retry are named above that line (they count as
passed: the retry is the browser runs' one allowance for a flaky test, not a silence).
"""

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(folder: str) -> int:
    passed = failed = skipped = 0
    flaky: list[str] = []
    for path in sorted(Path(folder).glob("*.xml")):
        for suite in ET.parse(path).getroot().iter("testsuite"):  # noqa: S314
            tests, skip = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            passed += tests - skip - bad
            failed += bad
            skipped += skip
    for path in sorted(Path(folder).glob("*.json")):
        report = json.loads(path.read_text())
        passed += int(report.get("numPassedTests", report.get("passed", 0)))
        failed += int(report.get("numFailedTests", report.get("failed", 0)))
        skipped += int(report.get("numPendingTests", report.get("skipped", 0)))
        flaky += [
            f"{path.name}: {test.get('file')} > {test.get('title')}"
            for test in report.get("testResults", [])
            if isinstance(test, dict) and test.get("flaky")
        ]
    for name in flaky:
        print(f"flaky (failed once, passed on its retry): {name}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
