'use strict';
// Hello-world http.createServer: small body, keep-alive (Node's default).
const http = require('node:http');

const body = 'Hello World';
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(body);
});
require('./listen').listen(server);
