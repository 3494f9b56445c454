'use strict';
// Express 5 hello-world with a rare late-callback bug on GET /bug/<n> (see prod-hello.js). The
// route is a RegExp, not '/bug/:n': endguard keys a route by its template where Express has
// one, and each bug here must stay a first occurrence of its own.
const express = require('express');

const app = express();
app.get('/', (req, res) => {
  res.send('Hello World');
});
app.get(/^\/bug\/\d+$/, (req, res) => {
  setTimeout(() => res.send('timeout'), 1); // bench:end
  setTimeout(() => res.send('late'), 5); // bench:late
});
// the late send's ERR_HTTP_HEADERS_SENT is thrown inside a timer: keep the server up
process.on('uncaughtException', (err) => {
  if (err.code !== 'ERR_HTTP_HEADERS_SENT') throw err;
});
require('./listen').listen(require('node:http').createServer(app));
