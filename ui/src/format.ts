// How numbers, sizes and times are shown.
const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export function count(n: number): string {
  return integer.format(n);
}

export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? integer.format(n) : decimal.format(n)} ${units[i]}`;
}

/** A metric value in its Scope format (`percent`, `filesize`, `integer`, or plain). */
export function metric(value: number, format?: string): string {
  switch (format) {
    case "percent":
      return `${decimal.format(value)}%`;
    case "filesize":
      return bytes(value);
    case "integer":
      return integer.format(value);
    default:
      return decimal.format(value);
  }
}

/** A metadata value by its Scope `dataType`. */
export function metadataValue(value: string, dataType?: string): string {
  if (dataType === "duration") {
    const s = Number(value);
    if (Number.isFinite(s)) return duration(s * 1000);
  }
  if (dataType === "datetime") {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d.toLocaleString();
  }
  return value;
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A clock time, to the minute, as a person reads a banner ("12:03"). */
export function clock(iso: string | undefined | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

export function clockSeconds(d: Date): string {
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
