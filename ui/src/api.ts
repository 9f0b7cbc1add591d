// The API client. Every URL is relative to the page, so the UI works under a path prefix and
// behind a proxy. Each answer's degraded state (header and body) goes to the banner.
import { report } from "./events";
import type { Degraded } from "./types";

export type DegradedListener = (channel: string, degraded: Degraded | null) => void;

let onDegraded: DegradedListener = () => {};

export function listenDegraded(listener: DegradedListener): void {
  onDegraded = listener;
}

export function degradedFrom(channel: string, degraded: Degraded | null): void {
  onDegraded(channel, degraded);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The header's tokens as a degraded object, for answers whose body cannot carry one. */
export function headerDegraded(header: string | null): Degraded | null {
  if (!header) return null;
  const tokens = header.split(",").map((s) => s.trim()).filter(Boolean);
  const notSources = ["missing-reports", "ingest", "partial-window"];
  const sources = tokens.filter((t) => !notSources.includes(t));
  return {
    sources,
    missing_reports: tokens.includes("missing-reports") ? -1 : 0,
    partial_window: tokens.includes("partial-window"),
  };
}

/**
 * GETs JSON from `path` (relative). `channel` names the stream of answers whose degraded state
 * the banner tracks (null: this answer says nothing about it).
 */
export async function getJson<T>(path: string, channel: string | null, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" }, signal });
  } catch (e) {
    if ((e as Error).name !== "AbortError") report("api-error", `${strip(path)}: ${(e as Error).message}`);
    throw e;
  }
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      message = ((await response.json()) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the status
    }
    report("api-error", `${strip(path)}: ${response.status}`, response.status);
    throw new ApiError(response.status, message);
  }
  const body = (await response.json()) as T & { degraded?: Degraded };
  if (channel) {
    const fromBody = body && typeof body === "object" && !Array.isArray(body) ? body.degraded : undefined;
    onDegraded(channel, fromBody ?? headerDegraded(response.headers.get("X-Stormscope-Degraded")));
  }
  return body;
}

/** A path without its query, for short event messages. */
function strip(path: string): string {
  return path.split("?")[0];
}

/** A websocket URL for a relative path. */
export function wsUrl(path: string): string {
  const url = new URL(path, document.baseURI);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}
