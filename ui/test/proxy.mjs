// A reverse proxy as deployments put in front of the app: it serves the app under a path
// prefix and sets the tenant header. It can drop every websocket it carries, and refuse new
// ones for a while, as a restarting ingress would.
import { createServer, request } from "node:http";
import { connect } from "node:net";

export async function startProxy({ target, prefix, tenantHeader, tenant }) {
  const upstream = new URL(target);
  const sockets = new Set();
  let refuseUntil = 0;
  const strip = (path) => (path.startsWith(prefix) ? `/${path.slice(prefix.length)}` : null);

  const server = createServer((req, res) => {
    const path = strip(req.url);
    if (path === null) {
      res.writeHead(404).end("not under the prefix\n");
      return;
    }
    const headers = { ...req.headers, host: upstream.host, [tenantHeader]: tenant };
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    out.on("error", () => res.writeHead(502).end());
    req.pipe(out);
  });

  server.on("upgrade", (req, client, head) => {
    const path = strip(req.url);
    if (path === null || Date.now() < refuseUntil) {
      client.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const up = connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${path} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        if (name.toLowerCase() === "host" || name.toLowerCase() === tenantHeader.toLowerCase()) continue;
        lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
      }
      lines.push(`Host: ${upstream.host}`, `${tenantHeader}: ${tenant}`, "", "");
      up.write(lines.join("\r\n"));
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    const pair = { client, up };
    sockets.add(pair);
    const forget = () => {
      sockets.delete(pair);
      client.destroy();
      up.destroy();
    };
    client.on("error", forget).on("close", forget);
    up.on("error", forget).on("close", forget);
  });

  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    open: () => sockets.size,
    /** Drops every websocket without a close frame and refuses new ones for `refuseMs`. */
    dropWebsockets(refuseMs) {
      refuseUntil = Date.now() + refuseMs;
      for (const { client, up } of [...sockets]) {
        client.destroy();
        up.destroy();
      }
    },
    close: () =>
      new Promise((ok) => {
        for (const { client, up } of sockets) {
          client.destroy();
          up.destroy();
        }
        server.closeAllConnections?.();
        server.close(ok);
      }),
  };
}
