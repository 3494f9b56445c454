'use strict';
// Bench-only preload: counts endguard's reports (and those with an end site) in the server,
// and prints them on stderr as one JSON line when the server exits. Costs one subscriber call
// per report.
const dc = require('node:diagnostics_channel');

const counts = { reports: 0, withEndSite: 0 };
dc.subscribe('endguard:violation', (report) => {
  counts.reports++;
  if (report.endSite !== null) counts.withEndSite++;
});
process.on('exit', () => process.stderr.write(`${JSON.stringify({ benchReports: counts })}\n`));
