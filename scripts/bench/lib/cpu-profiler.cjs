// Preloaded into a node under test (NODE_OPTIONS=--require, since Node 20 refuses --cpu-prof there):
// samples the CPU and writes a .cpuprofile into BENCH_CPU_PROFILE_DIR at exit. SIGUSR2 restarts the
// sampling, so the bench can leave start-up out and profile only what it measures.
'use strict';
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // V8 samples every 1 ms by default: too coarse for a round trip of a millisecond or less.
  const us = Number(process.env.BENCH_CPU_PROFILE_INTERVAL_US);
  if (us > 0) session.post('Profiler.setSamplingInterval', { interval: us });
  session.post('Profiler.start');
  // Each restart is counted in <profile root>/<pid>.restarted once sampling runs again: the bench
  // waits for it, so the stop (which builds the whole profile so far) is not paid by measured calls.
  let restarts = 0;
  const mark = join(dir, '..', `${process.pid}.restarted`);
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop', () => session.post('Profiler.start', () => writeFileSync(mark, String(++restarts))));
  });
  // The in-process inspector answers synchronously, so the profile can be taken in the exit handler.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
