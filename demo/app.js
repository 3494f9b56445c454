// The demo app: one route per seed cause of "write after end" (see the README).
// Each handler contains the bug exactly as users write it; endguard reports both sites.
const http = require('node:http');
const { EventEmitter } = require('node:events');
const { Readable, pipeline } = require('node:stream');
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');

const bus = new EventEmitter();

function slowQuery(callback) {
  setTimeout(() => callback([{ id: 1 }]), 60);
}

function createApp(upstreamUrl) {
  const app = express();

  // 1. missing return after res.json(): the handler runs on and responds again
  app.get('/users', (req, res) => {
    if (!req.query.id) {
      res.status(400).json({ error: 'id required' });
    }
    res.json({ id: req.query.id });
  });

  // 2. an async callback fires after a timeout path already ended the response
  app.get('/report', (req, res) => {
    setTimeout(() => res.status(504).end('timeout'), 10);
    slowQuery((rows) => res.end(JSON.stringify(rows)));
  });

  // 3. two res.send() in one handler
  app.get('/greeting', (req, res) => {
    res.send('hello');
    res.send('hello again');
  });

  // 4. middleware responds, then calls next() anyway
  app.use('/admin', (req, res, next) => {
    if (!req.headers.authorization) {
      res.status(401).send('unauthorized');
    }
    next();
  });
  app.get('/admin/stats', (req, res) => res.send('secret stats'));

  // 5. pipeline() ended the response; its callback writes after
  app.get('/export', (req, res) => {
    pipeline(Readable.from(['id,name\n', '1,ada\n']), res, () => {
      res.write('-- end of export --\n');
    });
  });

  // 6. proxy: the client disconnects, the upstream answers later into the destroyed response
  app.use('/upstream', createProxyMiddleware({ target: upstreamUrl }));

  // 7. server-sent events: the subscription outlives the client
  app.get('/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': connected\n\n');
    bus.on('price', (price) => res.write(`data: ${price}\n\n`));
  });

  // 8. double end: the pipe ends the response and an explicit end() runs too
  app.get('/download', (req, res) => {
    const file = Readable.from(['file contents\n']);
    file.pipe(res);
    file.on('end', () => res.end());
  });

  // Express hands the ERR_HTTP_HEADERS_SENT of causes 1, 3 and 4 to the error handler
  app.use((err, req, res, next) => {
    console.log(`  (Express error handler got ${err.code ?? err.message})`);
    if (!res.headersSent) res.status(500).end();
  });

  return app;
}

function createUpstream() {
  return http.createServer((req, res) => {
    setTimeout(() => res.end('upstream body\n'), 80);
  });
}

module.exports = { bus, createApp, createUpstream };
