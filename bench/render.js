'use strict';
// Prints the tables of a saved results file again (e.g. after a change to the summaries):
// node bench/render.js bench/results/full-latest.json
const fs = require('node:fs');
const { summarize, formatHttp } = require('./http');

const result = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const m = result.machine;
console.log(`endguard bench (${result.profile}) ${result.started} → ${result.finished}\nNode ${m.node} · ${m.cpu} · ${m.memGiB} GiB · ${m.kernel}\nagent: ${m.agent}\npinning: ${m.taskset} · load average ${m.loadavgAtStart} → ${m.loadavgAtEnd}\n`);
for (const section of ['http', 'ablation']) {
  if (!result[section]) continue;
  const variants = Object.keys(Object.values(result[section].raw)[0]);
  console.log(`## ${section === 'http' ? 'HTTP throughput' : 'HTTP ablation (hello-world)'}\n\n${formatHttp(summarize(result[section].raw, variants))}\n`);
}
