// The live feed: the view's websocket, reopened with backoff when it drops. The caller keeps
// showing the last data (marked stale) while the feed says it is reconnecting.
import { wsUrl } from "./api";
import { report } from "./events";
import type { Diff } from "./types";

export type FeedState = "connecting" | "live" | "reconnecting" | "closed";

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;

export class LiveFeed {
  private socket: WebSocket | null = null;
  private retry = FIRST_RETRY_MS;
  private timer: number | undefined;
  private path = "";
  state: FeedState = "closed";
  drops = 0;
  onDiff: (diff: Diff) => void = () => {};
  onState: (state: FeedState) => void = () => {};

  /** Opens the feed for `path` (relative, e.g. `api/topology/hosts/ws?t=1s`), closing any other. */
  open(path: string): void {
    this.close();
    this.path = path;
    this.connect("connecting");
  }

  close(): void {
    window.clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      s.close();
    }
    this.setState("closed");
  }

  private connect(state: FeedState): void {
    this.setState(state);
    let socket: WebSocket;
    try {
      socket = new WebSocket(wsUrl(this.path));
    } catch (e) {
      report("ws-drop", `open failed: ${(e as Error).message}`);
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    let received = false;
    socket.onmessage = (e) => {
      if (!received) {
        received = true;
        this.retry = FIRST_RETRY_MS;
        this.setState("live");
      }
      let diff: Diff;
      try {
        diff = JSON.parse(e.data as string) as Diff;
      } catch {
        report("api-error", "websocket sent a message that is not JSON");
        return;
      }
      this.onDiff(diff);
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.drops++;
      report("ws-drop", `closed ${e.code}${e.reason ? ` ${e.reason}` : ""}${received ? "" : " before any message"}`, e.code);
      this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    this.setState("reconnecting");
    const wait = this.retry * (0.8 + Math.random() * 0.4);
    this.retry = Math.min(this.retry * 2, MAX_RETRY_MS);
    this.timer = window.setTimeout(() => this.connect("reconnecting"), wait);
  }

  private setState(state: FeedState): void {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }
}
