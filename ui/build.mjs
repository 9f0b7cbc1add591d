// Builds the UI into dist/ (or the folder given as the first argument): content-hashed assets
// under assets/, and an index.html that names them by relative URLs so the UI works under any
// path prefix. Deterministic: the same sources and lockfile give the same bytes.
import * as esbuild from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(root, "dist"));

const common = {
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  legalComments: "none",
  charset: "utf8",
  write: false,
  metafile: true,
  logLevel: "warning",
  absWorkingDir: root,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  outdir: join(out, "assets"),
};

// The layout worker first: the page needs its hashed name.
const worker = await esbuild.build({
  ...common,
  entryPoints: { layout: "src/layout.worker.ts" },
});
const workerFile = onlyOutput(worker, ".js");

const page = await esbuild.build({
  ...common,
  entryPoints: { app: "src/main.ts" },
  define: { __LAYOUT_WORKER__: JSON.stringify(`assets/${basename(workerFile.path)}`) },
});

await rm(out, { recursive: true, force: true });
await mkdir(join(out, "assets"), { recursive: true });
for (const file of [...worker.outputFiles, ...page.outputFiles]) {
  await writeFile(file.path, file.contents);
}

const script = basename(onlyOutput(page, ".js").path);
const style = basename(onlyOutput(page, ".css").path);
const template = await readFile(join(root, "src/index.html"), "utf8");
const html = template
  .replace("%STYLE%", `assets/${style}`)
  .replace("%SCRIPT%", `assets/${script}`);
await writeFile(join(out, "index.html"), html);
console.log(`built ${out}: ${script}, ${style}, ${basename(workerFile.path)}`);

function onlyOutput(result, ext) {
  const files = result.outputFiles.filter((f) => f.path.endsWith(ext));
  if (files.length !== 1) throw new Error(`expected one ${ext} output, got ${files.length}`);
  return files[0];
}
