import './dist/bootstrap.js';
