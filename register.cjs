require('./dist/bundle.js').preload();
