// Colours for the canvas, which cannot read CSS: taken from the stylesheet's custom properties,
// so light and dark follow the system setting in one place.
export interface Theme {
  dark: boolean;
  background: string;
  text: string;
  muted: string;
  edge: string;
  edgeDim: string;
  dim: string;
  pseudo: string;
  accent: string;
}

const query = window.matchMedia("(prefers-color-scheme: dark)");

export function current(): Theme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string) => css.getPropertyValue(name).trim();
  return {
    dark: query.matches,
    background: v("--bg"),
    text: v("--text"),
    muted: v("--muted"),
    edge: v("--edge"),
    edgeDim: v("--edge-dim"),
    dim: v("--node-dim"),
    pseudo: v("--node-pseudo"),
    accent: v("--accent"),
  };
}

export function onChange(listener: () => void): void {
  query.addEventListener("change", listener);
}

/** A node's colour from its rank (Scope colours by rank), stable across sessions. */
export function nodeColour(key: string, dark: boolean): string {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  const hue = (h % 360 + 360) % 360;
  return hslHex(hue, dark ? 0.55 : 0.5, dark ? 0.62 : 0.5);
}

function hslHex(h: number, s: number, l: number): string {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  const hex = (x: number) => Math.round(x * 255).toString(16).padStart(2, "0");
  return `#${hex(f(0))}${hex(f(8))}${hex(f(4))}`;
}
