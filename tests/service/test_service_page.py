"""The web page end to end: `scientist serve` on a loopback port, driven by headless Chromium.

Chromium is Debian's ``chromium`` package (``/usr/bin/chromium``, or ``$SCIENTIST_CHROMIUM``),
driven by Playwright's Python package (the ``web-test`` extra); Playwright never downloads a
browser of its own. Without them the tests are skipped with the reason, except under CI
(``$CI`` set), where they fail: ``.ci/run`` installs both.

``SCIENTIST_SCREENSHOTS=docs pytest tests/service/test_service_page.py`` also writes the
screenshots of the three views used in the README (``docs/web-*.png``).
"""

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest

from scientist import WorldModel, ask, datasets
from scientist.service.auth import KeyStore
from scientist.service.testing import running_server

CHROMIUM = os.environ.get("SCIENTIST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
]
SPEC = """
principles:
  - name: no-dyspnoea
    description: The action must not cause shortness of breath.
    interpretations:
      - event: dysp=yes
"""
QUERY = "P(dysp=yes | do(smoke=yes))"
SHOTS = os.environ.get("SCIENTIST_SCREENSHOTS")
TIMEOUT = 20_000  # ms, for a page element to appear


def _missing(what: str) -> None:
    reason = (
        f"{what}; install it with `apt-get install -y chromium` and `pip install -e '.[web-test]'`"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def posterior():
    """A learned posterior over theories of the Asia network (hundreds of theories)."""
    data = datasets.load_network("asia").sample(3000, rng=0)
    return WorldModel(sampler="order_mcmc", n_samples=500, seed=0).fit(data).posterior_


@pytest.fixture(scope="module")
def server(tmp_path_factory, posterior):
    """`scientist serve` with the posterior and a harm spec; yields (url, keys, verdicts)."""
    tmp = tmp_path_factory.mktemp("page")
    posterior.save(tmp / "asia.npz")
    (tmp / "harms.yaml").write_text(SPEC)
    db = f"sqlite:///{tmp / 'audit.db'}"
    store = KeyStore(db)
    keys = {
        "all": store.create(["decide", "ask", "admin"], name="researcher")[1],
        "ask": store.create(["ask"])[1],
        "decide": store.create(["decide"])[1],
    }
    store.engine.dispose()
    args = [
        "--posterior",
        f"asia={tmp / 'asia.npz'}",
        "--spec",
        f"asia={tmp / 'harms.yaml'}",
        "--db",
        db,
        "--threshold",
        "0.5",
        "--inference-processes",
        "0",
    ]
    with running_server(args, log=tmp / "serve.log", cwd=tmp) as srv:
        url = srv.url
        verdicts = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['decide']}"}) as c:
            for action, context, threshold in [
                ("do(smoke=no)", None, None),
                ("do(smoke=yes)", None, None),
                ("do(asia=yes)", "smoke=no", None),
                ("do(smoke=yes)", None, 0.53),  # between the rules' bounds: escalated
                ("do(bronc=yes)", "smoke=no", None),
                ("do(smoke=no)", {"tub": "yes", "either": "no"}, None),
            ]:
                body = {"posterior": "asia", "action": action, "context": context}
                r = c.post("/v1/decide", json={**body, "threshold": threshold})
                r.raise_for_status()
                verdicts.append(r.json())
        yield url, keys, verdicts


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module, with a fresh profile."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
        CHROMIUM
    ):
        _missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright's Python package is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1360, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser, server):
    """A new tab on the page (signed out: the key lives in the tab's session storage)."""
    url, _, _ = server
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    tab.set_default_timeout(TIMEOUT)
    tab.goto(url + "/")
    yield tab
    tab.close()
    # refused requests (401, 403, 422) are logged by the browser; no script may fail
    expected = "Failed to load resource: the server responded with a status of 4"
    assert [e for e in errors if not e.startswith(expected)] == []


def sign_in(page, key: str) -> None:
    page.fill("#key", key)
    page.click("#sign-in")
    page.wait_for_selector("#tabs", state="visible")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"web-{name}.png"), full_page=True)


def test_nothing_is_shown_without_a_valid_key(page):
    assert page.is_visible("#key-form")
    for hidden in ("#tabs", "#who", "#view-posteriors", "#view-ask", "#view-guard"):
        assert not page.is_visible(hidden)
    page.fill("#key", "sci_000000000000_" + "x" * 43)
    page.click("#sign-in")
    page.wait_for_selector("#key-error", state="visible")
    assert "not valid" in page.inner_text("#key-error")
    assert not page.is_visible("#view-posteriors") and page.locator(".cell").count() == 0


def test_a_posteriors_graph_with_mechanisms_on_hover(page, server, posterior):
    _, keys, _ = server
    sign_in(page, keys["all"])
    page.wait_for_selector("#graph[data-edges] canvas")
    d = len(posterior.names)
    assert page.locator("#heatmap rect.cell").count() == d * (d - 1)
    cell = page.locator('#heatmap rect.cell[data-parent="smoke"][data-child="lung"]')
    p_smoke_lung = posterior.edge_marginals()[posterior.names.index("smoke")][
        posterior.names.index("lung")
    ]
    assert float(cell.get_attribute("data-p")) == pytest.approx(p_smoke_lung, abs=1e-6)
    assert page.locator("#theories tbody tr").count() == 5
    graph = page.evaluate(
        """() => { const cy = window.scientistPage.cy;
        return {nodes: cy.nodes().length,
                edges: cy.edges().map(e => [e.source().id(), e.target().id(), e.data('p'),
                                            Number(e.style('opacity'))])}; }"""
    )
    top = posterior.theory(0)
    assert graph["nodes"] == d
    assert {(a, b) for a, b, _, _ in graph["edges"]} == set(top.edges())
    marg = posterior.edge_marginals()
    for a, b, p, opacity in graph["edges"]:
        assert p == pytest.approx(
            marg[posterior.names.index(a), posterior.names.index(b)], abs=1e-6
        )
        assert opacity == pytest.approx(max(0.12, p), abs=1e-3)
    # hover the top theory's most probable edge
    at = page.evaluate(
        """() => { const cy = window.scientistPage.cy;
        const e = cy.edges().max(x => x.data('p')).ele;
        const s = e.source().renderedPosition(), t = e.target().renderedPosition();
        const m = {x: (s.x + t.x) / 2, y: (s.y + t.y) / 2};  // a straight edge's midpoint
        const b = cy.container().getBoundingClientRect();
        return {x: b.left + m.x, y: b.top + m.y, parent: e.source().id(), child: e.target().id()}; }"""
    )
    page.mouse.move(at["x"], at["y"])
    page.wait_for_selector("#edge-tip", state="visible")
    tip = page.inner_text("#edge-tip")
    parent, child = at["parent"], at["child"]
    effect = next(e for e in top.edge_effects() if (e["parent"], e["child"]) == (parent, child))
    lo, hi = effect["interval"]
    assert f"{parent} → {child}" in tip and f"P({child} | {parent})" in tip
    assert f"{parent}=yes:" in tip and f"{effect['value']:+.2f}"[1:] in tip
    assert f"[{lo:.2f}, {hi:.2f}]" in tip and "90% credible interval" in tip
    shot(page, "posteriors")
    page.mouse.move(5, 5)
    page.locator("#theories tbody tr").nth(1).click()
    page.wait_for_selector('#graph[data-theory="1"]')
    assert page.inner_text("#graph-title").startswith("Theory #2")


def test_ask_a_question_and_see_where_a_query_is_wrong(page, server, posterior):
    _, keys, _ = server
    sign_in(page, keys["ask"])
    page.click("#tab-ask")
    page.fill("#query", QUERY)
    page.click("#ask-button")
    page.wait_for_selector("#answer", state="visible")
    expected = ask(posterior, QUERY, seed=0, n_draws=32, level=0.9)
    assert page.inner_text("#answer-mean") == f"{expected.mean:.4f}"
    lo, hi = expected.interval
    assert f"[{lo:.4f}, {hi:.4f}]" in page.inner_text("#answer-interval")
    assert page.locator("#answer-band").count() == 1
    assert f"{expected.epistemic:.4f}" in page.inner_text("#epi-value")
    assert f"{expected.aleatoric:.4f}" in page.inner_text("#ale-value")
    assert page.locator("#support tbody tr").count() == len(expected.support) > 0
    shot(page, "ask")
    page.fill("#query", "P(dysp=yes | do(smoke=))")
    page.click("#ask-button")
    page.wait_for_selector("#query-error", state="visible")
    assert "column 23" in page.inner_text("#query-message")
    assert page.inner_text("#query-echo mark") == ")"
    assert page.get_attribute("#query-echo", "data-start") == "22"
    page.fill("#query", "P(rocket=yes | do(smoke=yes))")
    page.click("#ask-button")
    page.wait_for_selector("#query-echo mark >> text=rocket")
    assert "Unknown variable 'rocket'" in page.inner_text("#query-message")
    # this key cannot read the guard's decisions
    page.click("#tab-guard")
    page.wait_for_selector("#guard-denied", state="visible")
    assert "'admin' scope" in page.inner_text("#guard-denied")


def test_recent_decisions_filtered_and_one_explained(page, server):
    _, keys, verdicts = server
    sign_in(page, keys["all"])
    page.click("#tab-guard")
    page.wait_for_selector('#decisions[data-loaded="all"] tbody tr')
    ids = [
        int(x)
        for x in page.locator("#decisions tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]
    assert ids == [v["audit_id"] for v in verdicts][::-1]
    blocks = [v for v in verdicts if v["decision"] == "block"]
    block = blocks[-1]
    page.click(f'#decisions tbody tr[data-id="{block["audit_id"]}"]')
    page.wait_for_selector(f'#decision[data-id="{block["audit_id"]}"]')
    assert page.inner_text("#decision-badge").lower() == "block"
    assert page.inner_text("#decision-reason") == block["reason"]
    assert page.locator("#drivers tbody tr").count() == len(block["drivers"]) > 0
    assert page.locator("#decision-rules .track").count() == len(block["estimates"])
    assert page.text_content("#decision-explain").startswith(f"BLOCK: {block['action']}")
    page.wait_for_selector(f'#driver-graph[data-drawn="{block["audit_id"]}:0"]')
    driver = page.evaluate(
        """() => { const cy = window.scientistPage.driverCy;
        return {nodes: cy.nodes().length, p: cy.edges().map(e => e.data('p'))}; }"""
    )
    assert driver["nodes"] == 8 and len(driver["p"]) > 0
    assert all(0 < p <= 1 for p in driver["p"]) and min(driver["p"]) < 1  # P(edge | data)
    shot(page, "guard")
    page.click('#decision-filter button[data-decision="block"]')
    page.wait_for_selector('#decisions[data-loaded="block"]', state="attached")
    kinds = page.locator("#decisions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.decision)"
    )
    assert set(kinds) == {"block"}
    assert page.locator("#decisions tbody tr").count() == len(blocks)
    page.click('#decision-filter button[data-decision="escalate"]')
    page.wait_for_selector('#decisions[data-loaded="escalate"]', state="attached")
    kinds = page.locator("#decisions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.decision)"
    )
    assert set(kinds) == {"escalate"}
    escalated = [v for v in verdicts if v["decision"] == "escalate"]
    assert page.locator("#decisions tbody tr").count() == len(escalated) > 0


def test_a_key_without_scopes_sees_only_what_it_may(page, server):
    _, keys, _ = server
    sign_in(page, keys["decide"])
    page.wait_for_selector("#posteriors-denied", state="visible")
    assert "'ask' scope" in page.inner_text("#posteriors-denied")
    assert page.locator("#heatmap rect").count() == 0
    page.click("#sign-out")
    page.wait_for_selector("#key-form", state="visible")
    assert not page.is_visible("#tabs")
    assert page.evaluate("() => sessionStorage.length") == 0
    assert json.loads(page.evaluate("() => JSON.stringify(window.scientistPage.state.key)")) is None
