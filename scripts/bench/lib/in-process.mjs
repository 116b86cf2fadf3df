/**
 * Nanoseconds per call of a synchronous function, measured in this process: `rounds` timed loops
 * of `calls` calls each after one untimed warm-up loop (the JIT), the median round reported.
 * `f` returns something the loop folds into a checksum, so the calls cannot be optimised away.
 */
export function nsPerCall(f, { calls, rounds }) {
  let sink = 0;
  const loop = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink += f() ? 1 : 0;
    return Number(process.hrtime.bigint() - t0) / calls;
  };
  loop();
  const samples = Array.from({ length: rounds }, loop).sort((a, b) => a - b);
  return { median_ns: samples[Math.floor(samples.length / 2)], min_ns: samples[0], max_ns: samples.at(-1), calls, rounds, checksum: sink };
}
