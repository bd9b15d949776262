"""Settings for the whole suite: the hypothesis profiles, and `--counts` (what the suite tests, counted honestly)."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, settings

# `ci` (CI, scripts/run-tests): the same examples on every machine and every run, no example database, so
# whether the suite passes never depends on a folder of saved failures. `random` (scripts/run-fuzz): new
# random examples each run, EAS_FUZZ_FACTOR times as many as each test asks for. Neither has a deadline: how
# long an example takes depends on the machine's load, which a test must not measure.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
FUZZ_FACTOR = int(os.environ.get("EAS_FUZZ_FACTOR", "10"))
settings.register_profile(
    "random", max_examples=100 * FUZZ_FACTOR, derandomize=False, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile("dev", deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--counts", action="store_true",
                     help="print the number of test functions per area and the cases they expand to, then stop")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PROFILE != "random" or FUZZ_FACTOR <= 1:
        return
    for item in items:
        test = getattr(item, "obj", None)
        inner = getattr(test, "hypothesis", None)
        # hypothesis keeps a test's own @settings here; asking for more examples is the only change.
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if inner is not None and isinstance(own, settings):
            more = settings(own, max_examples=own.max_examples * FUZZ_FACTOR)
            test._hypothesis_internal_use_settings = more  # type: ignore[union-attr]


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.config.getoption("--counts"):
        return
    functions: Counter[str] = Counter()
    cases: Counter[str] = Counter()
    properties: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for item in session.items:
        path = item.nodeid.split("::", 1)[0]
        area = "/".join(path.split("/")[:2]) if path.count("/") > 1 else path
        function = getattr(item, "originalname", item.name)
        cases[area] += 1
        if (path, function) not in seen:
            seen.add((path, function))
            functions[area] += 1
            properties[area] += getattr(getattr(item, "obj", None), "hypothesis", None) is not None
    writer = session.config.pluginmanager.get_plugin("terminalreporter")
    writer.write_line(f"{'area':<30} {'functions':>9} {'properties':>10} {'cases':>6}")
    for area in sorted(functions):
        writer.write_line(f"{area:<30} {functions[area]:>9} {properties[area]:>10} {cases[area]:>6}")
    writer.write_line(f"{'total':<30} {sum(functions.values()):>9} {sum(properties.values()):>10} "
                      f"{sum(cases.values()):>6}")
    pytest.exit("counted, not run", returncode=0)
