// The UI benchmark (issue #9, "Must show" 5): against a running app holding a large topology,
// measures in Chromium the time from navigation to the first drawn graph, the time to apply a
// websocket update of 100 changed nodes, and frame times while panning. Run by
// scripts/bench-ui.sh, which starts a release build and loads the topology.
//   node bench/bench.mjs APP_URL [runs]
import { browser, debug, eventually, newPage, sleep } from "../test/harness.mjs";

const app = process.argv[2];
const runs = Number(process.argv[3] ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

const b = await browser();
const firstDraws = [];
let page;
let counts;
for (let i = 0; i < runs; i++) {
  await page?.context().close();
  page = await newPage(b);
  await page.goto(`${app}/?view=processes&mode=graph`);
  await eventually(async () => (await debug(page, "timings")).firstDrawMs !== null, 30_000, "the first draw");
  firstDraws.push((await debug(page, "timings")).firstDrawMs);
  counts = await debug(page, "counts");
}
const query = await debug(page, "apiQuery");
const answer = await (await fetch(`${app}/api/topology/processes?${query}`)).json();
const apiNodes = Object.keys(answer.nodes).length;
console.log(`processes view: ${counts.nodes} nodes, ${counts.edges} edges drawn (API: ${apiNodes} nodes)`);
console.log(`first draw after navigation: median ${median(firstDraws).toFixed(0)} ms (${firstDraws.map((x) => x.toFixed(0)).join(", ")})`);
await eventually(async () => !(await debug(page, "layoutRunning")), 60_000, "the first layout");

// 100 changed nodes: the same processes (a view node's id is its Process node's id) reported
// again with a newer command line, which the merge takes over.
const ids = Object.keys(answer.nodes).filter((id) => !answer.nodes[id].pseudo);
const updates = [];
for (let round = 0; round < runs; round++) {
  const now = new Date().toISOString();
  const nodes = {};
  for (const id of ids.slice(round * 100, round * 100 + 100)) {
    nodes[id] = { id, topology: "process", latest: { cmdline: { timestamp: now, value: `bench-${round} ${id}` } }, children: null, metrics: {}, parents: {}, sets: {} };
  }
  const body = JSON.stringify({ Process: { shape: "square", label: "process", label_plural: "processes", nodes }, Plugins: [], ID: `bench-${round}-${Date.now()}` });
  const before = (await debug(page, "timings")).updates;
  const posted = Date.now();
  const response = await fetch(`${app}/api/report`, { method: "POST", headers: { "Content-Type": "application/json", "X-Scope-Probe-ID": "bench-update" }, body });
  if (!response.ok) throw new Error(`POST /api/report: ${response.status} ${await response.text()}`);
  const t = await eventually(async () => {
    const t = await debug(page, "timings");
    return t.updates > before && t.lastChange >= 100 && t.lastApplyMs !== null ? t : null;
  }, 20_000, "the websocket update");
  await sleep(200);
  const settled = await debug(page, "timings");
  updates.push({ apply: settled.lastApplyMs, changed: t.lastChange, endToEnd: Date.now() - posted });
  await sleep(1500);
}
console.log(`websocket update: ${updates.map((u) => `${u.changed} nodes applied in ${u.apply.toFixed(0)} ms`).join("; ")}; median ${median(updates.map((u) => u.apply)).toFixed(0)} ms`);
console.log(`(post to drawn, including the app's 1 s websocket tick: ${updates.map((u) => u.endToEnd).join(", ")} ms)`);

// Panning: drag across the canvas for about two seconds and time every frame.
await eventually(async () => !(await debug(page, "layoutRunning")), 30_000, "the layout to settle");
await page.evaluate(() => {
  window.__frames = [];
  let last = performance.now();
  const tick = (t) => {
    window.__frames.push(t - last);
    last = t;
    if (window.__panning) requestAnimationFrame(tick);
  };
  window.__panning = true;
  requestAnimationFrame(tick);
});
await page.mouse.move(640, 420);
await page.mouse.down();
for (let i = 0; i < 120; i++) {
  await page.mouse.move(640 + 200 * Math.sin(i / 10), 420 + 120 * Math.cos(i / 13));
  await sleep(16);
}
await page.mouse.up();
const frames = await page.evaluate(() => {
  window.__panning = false;
  return window.__frames.slice(2);
});
console.log(`panning: ${frames.length} frames, median ${median(frames).toFixed(1)} ms, p95 ${pct(frames, 0.95).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms`);
if (page.errors.length) console.log("page errors:", page.errors);
await b.close();
