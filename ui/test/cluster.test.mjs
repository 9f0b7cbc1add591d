// Must show 3, 4 and 6 of issue #9 with a collector and an app over real memcached and
// s3s-fs, the browser reaching the app through a proxy that serves it under /scope/ and sets
// the tenant header: the cache banner comes with a memcached outage and leaves after it; the
// ingest-health banner comes when the object store stops while probes post, and leaves when
// the backlog drains; a tenant's first answer says the window is still being merged; a dropped
// websocket shows "reconnecting", then live again, and the drop is counted in /metrics through
// /api/ui/events.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { browser, debug, drawnPixels, eventually, fixture, memcached, newPage, postReport, s3, screenshots, sleep, stormscope } from "./harness.mjs";
import { startProxy } from "./proxy.mjs";

mkdirSync(screenshots, { recursive: true });

const TENANT = "ui-tenant";

describe("collector and app over memcached and s3s-fs, behind a proxy", () => {
  let mc;
  let store;
  let collector;
  let app;
  let proxy;
  let b;
  let posting = true;
  let poster;

  before(async () => {
    mc = await memcached();
    store = await s3();
    const storage = ["--memcached", mc.addr, "--object-store", "s3://reports", "--tenancy", "header"];
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const spool = mkdtempSync(join(tmpdir(), "stormscope-ui-spool-"));
    collector = await stormscope("collector", ["collector", ...storage, "--spool-dir", spool, "--flush-interval", "1s", "--object-store-timeout", "2s"], store.env_);
    app = await stormscope("app", ["app", ...storage, "--object-store-timeout", "2s"], store.env_);
    proxy = await startProxy({ target: app.url, prefix: "/scope/", tenantHeader: "X-Scope-OrgID", tenant: TENANT });
    // Two probes posting their full reports every second, as long as the tests run.
    const bodies = [fixture("hostA-07-full.msgpack.gz"), fixture("hostB-07-full.msgpack.gz")];
    poster = (async () => {
      while (posting) {
        await Promise.all(bodies.map((body, i) => postReport(collector.url, body, { probe: `probe-${i}`, tenant: TENANT }).catch(() => {})));
        await sleep(1000);
      }
    })();
    b = await browser();
  });

  after(async () => {
    posting = false;
    await poster;
    await b?.close();
    await proxy?.close();
    for (const p of [app, collector, store, mc]) await p?.kill();
  });

  async function livePage() {
    const page = await newPage(b);
    await page.goto(`${proxy.url}?view=hosts`);
    await eventually(async () => (await debug(page, "counts")).nodes >= 2, 20_000, "both hosts through the proxy");
    return page;
  }

  test("the cache banner comes within one refresh of a memcached outage and leaves after it", async () => {
    const page = await livePage();
    assert.equal(await page.locator(".banner").isVisible(), false, "no banner while healthy");
    mc.stopSignal("SIGSTOP");
    try {
      await eventually(async () => (await debug(page, "banner")).sources.includes("cache"), 15_000, "the cache banner");
      const text = (await debug(page, "banner")).text;
      assert.match(text, /The cache \(memcached\) is unreachable/);
      // The banner shrinks the graph's container; the graph must still be drawn in it.
      await eventually(async () => (await drawnPixels(page, ".graph")) > 500, 2_000, "the graph drawn under the banner");
      await page.screenshot({ path: join(screenshots, "degraded-banner.png") });
    } finally {
      mc.stopSignal("SIGCONT");
    }
    await eventually(async () => (await debug(page, "banner")).text === "", 45_000, "the banner to leave");
    assert.equal(await page.locator(".banner").isVisible(), false);
    assert.deepEqual(page.errors, []);
  });

  test("the ingest-health banner comes within 10 s of an object-store outage and leaves when the backlog drains", async () => {
    const page = await livePage();
    await eventually(async () => (await debug(page, "banner")).text === "", 30_000, "a clean start");
    await store.kill();
    const stopped = Date.now();
    try {
      await eventually(async () => /not reaching the object store/.test((await debug(page, "banner")).text), 10_000, "the ingest banner");
      const seconds = (Date.now() - stopped) / 1000;
      const text = (await debug(page, "banner")).text;
      assert.match(text, /Reports are not reaching the object store since \d{1,2}:\d{2}.*; [\d,]+ reports? waiting\. The live view is complete\./, `${text} after ${seconds}s`);
      await page.screenshot({ path: join(screenshots, "ingest-banner.png") });
    } finally {
      store.start();
    }
    await eventually(async () => !/object store/.test((await debug(page, "banner")).text), 60_000, "the ingest banner to leave after the backlog drains");
    assert.deepEqual(page.errors, []);
  });

  test("a tenant's first answer says the window is still being merged, then the banner leaves", async () => {
    // A new tenant with more reports in its window than a first answer merges at once.
    const tenant = "ui-first-answer";
    const bodies = [fixture("hostA-07-full.msgpack.gz"), fixture("hostB-07-full.msgpack.gz")];
    for (let round = 0; round < 36; round++) {
      await Promise.all(bodies.map((body, i) => postReport(collector.url, body, { probe: `first-${i}`, tenant })));
    }
    const first = await startProxy({ target: app.url, prefix: "/scope/", tenantHeader: "X-Scope-OrgID", tenant });
    try {
      const page = await newPage(b);
      // Every text the banner shows, however briefly: the partial answer lasts one query.
      await page.addInitScript(() => {
        window.__bannerTexts = [];
        new MutationObserver(() => {
          const banner = document.querySelector(".banner");
          if (banner && !banner.hidden) window.__bannerTexts.push(banner.textContent);
        }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
      });
      await page.goto(`${first.url}?view=hosts`);
      await eventually(async () => (await debug(page, "counts")).nodes >= 2, 20_000, "both hosts");
      await eventually(async () => (await debug(page, "banner")).text === "", 20_000, "the banner to leave");
      const texts = await page.evaluate(() => window.__bannerTexts);
      assert.ok(texts.some((t) => /Still merging this window/.test(t)), `the partial answer shown: ${JSON.stringify(texts)}`);
      assert.ok(!texts.some((t) => /unreachable/.test(t)), `nothing called unreachable: ${JSON.stringify(texts)}`);
      assert.deepEqual(page.errors, []);
    } finally {
      await first.close();
    }
  });

  test("a dropped websocket shows reconnecting, then live, and the drop is counted in /metrics", async () => {
    const metric = async () => {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith('stormscope_ui_events_total{kind="ws-drop"}'));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    const before = await metric();
    const page = await livePage();
    await eventually(async () => (await debug(page, "connection")) === "live", 10_000, "live");
    assert.ok(proxy.open() >= 1, "the websocket goes through the proxy");
    proxy.dropWebsockets(3000);
    await eventually(async () => (await debug(page, "connection")) === "reconnecting", 5_000, "reconnecting");
    assert.equal(await page.locator(".statusbar .conn").textContent(), "Reconnecting…");
    assert.ok(await page.evaluate(() => document.body.classList.contains("stale")), "the last data stays, marked stale");
    assert.ok((await debug(page, "counts")).nodes >= 2, "the last data stays on screen");
    await eventually(async () => (await debug(page, "connection")) === "live", 20_000, "live again");
    assert.equal(await page.evaluate(() => document.body.classList.contains("stale")), false);
    await eventually(async () => (await metric()) > before, 30_000, "stormscope_ui_events_total{kind=\"ws-drop\"} to count the drop");
    assert.deepEqual(page.errors, []);
  });
});
