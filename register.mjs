import { preload } from './dist/bundle.js';
preload();
