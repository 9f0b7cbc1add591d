// Must show 1, 2 and 6 of issue #9: standalone with its local probe (hosts shows this machine,
// processes shows nodes and edges, a click opens details with metadata and a sparkline, the
// copied URL opens the same node), and standalone fed every real probe body from testdata,
// where every view draws as many nodes and edges as the API returns for it.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { browser, debug, eventually, fixture, fixtures, newPage, postReport, removeDir, screenshots, stormscope, tempDir } from "./harness.mjs";

mkdirSync(screenshots, { recursive: true });

/** Screen coordinates of a node, from sigma's own viewport mapping. */
async function nodeOnScreen(page, id) {
  return page.evaluate((node) => {
    const sigma = window.__stormscope.sigma();
    const data = sigma.getNodeDisplayData(node);
    if (!data) return null;
    const p = sigma.graphToViewport(data);
    const box = sigma.getContainer().getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  }, id);
}

async function settled(page) {
  await eventually(async () => !(await debug(page, "layoutRunning")), 20_000, "the layout to settle");
}

describe("standalone with its local probe", () => {
  let app;
  let b;
  let dir;

  before(async () => {
    dir = tempDir("stormscope-ui-standalone-");
    app = await stormscope("standalone", ["standalone", "--data-dir", dir, "--probe-interval", "1s"]);
    b = await browser();
  });

  after(async () => {
    await b?.close();
    await app?.kill();
    if (dir) removeDir(dir);
  });

  test("hosts shows this machine; processes shows nodes and edges; a click opens details; the URL reopens them", async () => {
    const page = await newPage(b);
    // The Content-Encoding of each API answer the page reads over HTTP (the websocket aside).
    const encodings = new Map();
    page.on("response", (response) => {
      const { pathname } = new URL(response.url());
      if (pathname.startsWith("/api/")) encodings.set(pathname, response.headers()["content-encoding"]);
    });
    // The extensions each websocket upgrade agreed to, as Chromium saw the 101 answer.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    const agreed = [];
    cdp.on("Network.webSocketHandshakeResponseReceived", ({ response }) => {
      const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      agreed.push(headers["sec-websocket-extensions"]);
    });
    await page.goto(`${app.url}/`);
    const short = hostname().split(".")[0];
    const hosts = await eventually(async () => {
      const body = await (await fetch(`${app.url}/api/topology/hosts`)).json();
      return Object.values(body.nodes).find((n) => n.label === short);
    }, 20_000, `the hosts view to have ${short}`);
    await eventually(async () => (await debug(page, "nodePosition", hosts.id)) !== null, 15_000, "this host drawn");
    assert.equal((await debug(page, "state")).view, "hosts");
    assert.equal(await page.locator(".statusbar [data-state]").getAttribute("data-state"), "live");
    await eventually(async () => encodings.has("/api/topology") && encodings.has("/api/status"), 10_000, "the view list and status read");
    assert.equal(encodings.get("/api/topology"), "gzip", "the browser asks for gzip and the view list comes gzipped");
    assert.equal(encodings.get("/api/status"), "gzip");
    // Chromium offers permessage-deflate and the app agrees: the view drawn above came over
    // compressed messages.
    assert.ok(agreed.length > 0 && agreed.every((e) => e?.startsWith("permessage-deflate")), JSON.stringify(agreed));
    await settled(page);
    await page.screenshot({ path: join(screenshots, "hosts.png") });

    await page.click('a.view[data-view="processes"]');
    const counts = await eventually(async () => {
      const c = await debug(page, "counts");
      return c.nodes > 1 && c.edges > 0 ? c : null;
    }, 20_000, "processes with edges");
    assert.ok(counts.nodes > 1, JSON.stringify(counts));
    assert.match(page.url(), /view=processes/);
    await settled(page);
    await page.screenshot({ path: join(screenshots, "processes.png") });

    // The stormscope process itself: it reports CPU and memory, so its details have samples.
    const processes = await (await fetch(`${app.url}/api/topology/processes?${await debug(page, "apiQuery")}`)).json();
    const own = Object.values(processes.nodes).find((n) => n.label.endsWith("stormscope") && !n.pseudo && n.metrics?.length);
    assert.ok(own, "the stormscope process is in the processes view");
    // The local probe keeps reporting, and a new process moves the layout: the node is
    // located again, once the layout has settled, for each click.
    await eventually(async () => {
      await settled(page);
      const spot = await nodeOnScreen(page, own.id);
      assert.ok(spot, "the node is drawn");
      await page.mouse.click(spot.x, spot.y);
      return eventually(async () => (await debug(page, "state")).node === own.id, 2_000, "the click to select the node")
        .then(() => true, () => false);
    }, 15_000, "a click on the node to select it");
    const panel = page.locator("aside.details");
    await panel.waitFor({ state: "visible" });
    await eventually(async () => (await panel.locator(".meta dt").count()) > 0, 10_000, "metadata rows");
    assert.ok((await panel.locator(".meta dt").allTextContents()).includes("PID"));
    await eventually(async () => (await panel.locator(".sparkline canvas").count()) > 0, 20_000, "a sparkline");
    await page.screenshot({ path: join(screenshots, "details.png") });

    const link = page.url();
    assert.match(link, /node=/);
    const again = await newPage(b);
    await again.goto(link);
    await eventually(async () => (await debug(again, "details")).open, 10_000, "details on the copied link");
    assert.equal((await debug(again, "state")).node, own.id);
    assert.equal((await debug(again, "state")).view, "processes");
    await eventually(async () => (await again.locator("aside.details .meta dt").count()) > 0, 10_000, "the same details");
    assert.equal(await again.locator("aside.details h2").textContent(), own.label);

    // Back goes to the hosts view, forward to processes with the node selected.
    await page.goBack();
    await eventually(async () => (await debug(page, "state")).node === null, 5_000, "back to no selection");
    await page.goBack();
    await eventually(async () => (await debug(page, "state")).view === "hosts", 5_000, "back to hosts");
    await page.goForward();
    await eventually(async () => (await debug(page, "state")).view === "processes", 5_000, "forward to processes");
    assert.deepEqual(page.errors, []);
    assert.deepEqual(again.errors, []);

    // Dark theme renders too (the README's screenshots show both).
    const dark = await newPage(b, "dark");
    await dark.goto(link);
    await eventually(async () => (await dark.locator("aside.details .meta dt").count()) > 0, 10_000, "details in dark");
    await settled(dark);
    await dark.screenshot({ path: join(screenshots, "details-dark.png") });
  });
});

describe("standalone fed every real probe body", () => {
  let app;
  let b;
  let dir;

  before(async () => {
    dir = tempDir("stormscope-ui-fixtures-");
    app = await stormscope("standalone-fixtures", ["standalone", "--no-probe", "--data-dir", dir, "--window", "1h"]);
    const bodies = readdirSync(fixtures).filter((f) => f.endsWith(".msgpack.gz")).sort();
    assert.ok(bodies.length >= 17, bodies.join(" "));
    for (const name of bodies) await postReport(app.url, fixture(name), { probe: name.split("-")[0] });
    b = await browser();
  });

  after(async () => {
    await b?.close();
    await app?.kill();
    if (dir) removeDir(dir);
  });

  test("every view draws as many nodes and edges as the API returns", async () => {
    const registry = await (await fetch(`${app.url}/api/topology`)).json();
    const views = registry.flatMap((d) => [d, ...(d.sub_topologies ?? [])]).map((d) => d.url.split("/").pop());
    assert.ok(views.length >= 10, views.join(" "));
    const page = await newPage(b);
    let drawnSomething = 0;
    for (const view of views) {
      await page.goto(`${app.url}/?view=${view}&mode=graph`);
      await eventually(async () => (await debug(page, "connection")) === "live" && (await debug(page, "timings")).updates > 0, 15_000, `${view} live`);
      const query = await debug(page, "apiQuery");
      const answer = await (await fetch(`${app.url}/api/topology/${view}?${query}`)).json();
      const nodes = Object.values(answer.nodes);
      const adjacency = nodes.reduce((n, node) => n + (node.adjacency?.length ?? 0), 0);
      const counts = await eventually(async () => {
        const c = await debug(page, "counts");
        return c.nodes === nodes.length ? c : null;
      }, 10_000, `${view}: ${nodes.length} nodes drawn`);
      assert.equal(counts.nodes, nodes.length, `${view} nodes`);
      assert.equal(counts.edges, adjacency, `${view} edges (${JSON.stringify(counts)})`);
      assert.equal(counts.dangling, 0, `${view}: every edge's target is drawn`);
      if (nodes.length > 0) drawnSomething++;
      if (view === "processes") {
        await settled(page);
        await page.screenshot({ path: join(screenshots, "processes-demo.png") });
      }
    }
    assert.ok(drawnSomething >= 3, `views with nodes: ${drawnSomething}`);

    // The table holds the same nodes, and search filters it.
    await page.goto(`${app.url}/?view=processes&mode=table`);
    const total = (await eventually(async () => {
      const c = await debug(page, "counts");
      return c.nodes > 0 && c.tableRows === c.nodes ? c : null;
    }, 10_000, "table rows")).nodes;
    await page.keyboard.press("/");
    await page.keyboard.type("loadgen");
    const filtered = await eventually(async () => {
      const c = await debug(page, "counts");
      return c.tableRows < total ? c.tableRows : null;
    }, 5_000, "search to filter the table");
    assert.ok(filtered > 0, "the loadgen processes match");
    assert.match(page.url(), /q=loadgen/);
    assert.deepEqual(page.errors, []);
  });
});
