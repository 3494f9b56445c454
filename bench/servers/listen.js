'use strict';
// Listens on 127.0.0.1:0, prints {"port"} on stdout, exits cleanly on SIGTERM/SIGINT
// (a clean exit is what writes --cpu-prof profiles), prints {"cpuMicros"} on SIGUSR2.
exports.listen = function listen(server) {
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n');
  });
  const stop = () => {
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // the bench reads the process's own CPU time (µs, all threads) around a measured window:
  // finer than /proc/<pid>/stat's 10 ms ticks, which matters at 1,000 req/s
  process.on('SIGUSR2', () => {
    const { user, system } = process.cpuUsage();
    process.stdout.write(JSON.stringify({ cpuMicros: user + system }) + '\n');
  });
};
