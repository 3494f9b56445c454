require('./dist/bootstrap.js');
