// The UI's own health, reported to `POST /api/ui/events`: small events, batched, at most one
// batch every few seconds, and a failed send is dropped (never retried in a loop).
export type EventKind = "page-load-error" | "api-error" | "ws-drop" | "slow-render";

interface UiEvent {
  kind: EventKind;
  message: string;
  value?: number;
}

const MAX_BATCH = 20;
const MAX_QUEUE = 40;
const MAX_MESSAGE = 160;
const INTERVAL_MS = 5000;
const MAX_INTERVAL_MS = 120_000;

let queue: UiEvent[] = [];
let interval = INTERVAL_MS;
let timer: number | undefined;
let sent = 0;

export function report(kind: EventKind, message: string, value?: number): void {
  if (queue.length >= MAX_QUEUE) return; // a storm of errors says no more than its first 40
  const event: UiEvent = { kind, message: message.slice(0, MAX_MESSAGE) };
  if (value !== undefined && Number.isFinite(value)) event.value = Math.round(value);
  queue.push(event);
  schedule();
}

/** Events sent so far (shown in the debug object for tests). */
export function sentCount(): number {
  return sent;
}

function schedule(): void {
  if (timer === undefined) timer = window.setTimeout(flush, interval);
}

async function flush(): Promise<void> {
  timer = undefined;
  const batch = queue.splice(0, MAX_BATCH);
  if (batch.length === 0) return;
  let ok = false;
  try {
    const response = await fetch("api/ui/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: batch }),
      keepalive: true,
    });
    ok = response.ok;
  } catch {
    ok = false;
  }
  if (ok) {
    sent += batch.length;
    interval = INTERVAL_MS;
  } else {
    // Dropped, and the next batch waits longer: a failing endpoint gets fewer requests, not more.
    interval = Math.min(interval * 2, MAX_INTERVAL_MS);
  }
  if (queue.length > 0) schedule();
}

/** Script errors while the page loads or runs. */
export function watchPage(): void {
  window.addEventListener("error", (e) => report("page-load-error", e.message || "script error"));
  window.addEventListener("unhandledrejection", (e) =>
    report("page-load-error", String((e.reason as Error)?.message ?? e.reason)),
  );
}
