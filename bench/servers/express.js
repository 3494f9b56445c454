'use strict';
// Express 5 hello-world.
const express = require('express');

const app = express();
app.get('/', (req, res) => {
  res.send('Hello World');
});
require('./listen').listen(require('node:http').createServer(app));
