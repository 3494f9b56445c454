// `npm run demo`: starts the demo app with endguard preloaded, calls every route once,
// prints endguard's reports as they happen, then a summary table, and exits.
const dc = require('node:diagnostics_channel');
const http = require('node:http');
const path = require('node:path');
const { bus, createApp, createUpstream } = require('./app');

const seen = [];
dc.subscribe('endguard:violation', (report) => seen.push(report));
// cause 2's late end() emits 'error' on the response: without a listener the app would crash
process.on('uncaughtException', (err) => {
  if (err.code !== 'ERR_STREAM_WRITE_AFTER_END') throw err;
  console.log(`  (uncaught ${err.code}: without this handler the app would have crashed here)`);
});

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

function call(port, route, { disconnectAfterMs } = {}) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
        if (disconnectAfterMs !== undefined) setTimeout(() => req.destroy(), disconnectAfterMs);
      });
      res.on('end', () => resolve(`${res.statusCode} ${JSON.stringify(body.trim())}`));
      res.on('close', () => resolve(`${res.statusCode} (client disconnected)`));
    });
    req.on('error', () => resolve('(client disconnected)'));
    if (disconnectAfterMs !== undefined && route.startsWith('/upstream')) setTimeout(() => req.destroy(), disconnectAfterMs);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const short = (site) => (site ? path.relative(process.cwd(), site) : '—');

async function main() {
  const upstream = createUpstream();
  const upstreamPort = await listen(upstream);
  const server = http.createServer(createApp(`http://127.0.0.1:${upstreamPort}`));
  const port = await listen(server);
  console.log(`endguard demo: app on http://127.0.0.1:${port} (endguard reports go to stderr)\n`);

  const routes = [
    ['/users', {}],
    ['/report', {}],
    ['/greeting', {}],
    ['/admin/stats', {}],
    ['/export', {}],
    ['/upstream/data', { disconnectAfterMs: 20 }],
    ['/events', { disconnectAfterMs: 10 }],
    ['/download', {}],
  ];
  for (const [route, options] of routes) {
    const got = await call(port, route, options);
    console.log(`GET ${route.padEnd(14)} → client got ${got}`);
    await sleep(route === '/events' ? 30 : 120);
    if (route === '/events') bus.emit('price', 42);
    await sleep(30);
  }

  console.log('\nendguard summary: cause → end site → late site');
  const rows = seen.map((r) => [r.cause, short(r.endSite), short(r.lateSite), r.kind]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), 5));
  for (const row of rows) console.log(`  ${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  →  ${row[2].padEnd(widths[2])}  (${row[3]})`);
  console.log(`\n${seen.length} violations found in ${routes.length} requests.`);
  server.close();
  upstream.close();
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 50).unref();
}

main();
