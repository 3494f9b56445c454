'use strict';
// Hello-world http server with a rare late-callback bug: GET /bug/<n> ends the response from a
// short timeout, and its "slow query" answers late (cause 2). Each <n> is a path of its own, so
// under the armed policy every bug is a first occurrence.
const http = require('node:http');

const body = 'Hello World';
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/bug/')) {
    res.on('error', () => {}); // the late end(chunk) emits 'error': keep the server up
    setTimeout(() => res.end('timeout'), 1); // bench:end
    setTimeout(() => res.end('late'), 5); // bench:late
    return;
  }
  res.setHeader('content-type', 'text/plain');
  res.end(body);
});
require('./listen').listen(server);
