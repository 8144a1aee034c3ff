// bench.mjs - BullMQ on the same store as codeq, for bench/run.
//
//   node bench.mjs drain|bulk --port P [--host H] -n N [--concurrency C]
//
// bulk:  N jobs added with addBulk in chunks of 1,000 (nothing draining);
//        the rate is N over the time of the adds.
// drain: N jobs added the same way first, then one Worker (concurrency C,
//        a no-op processor) started; the rate is N over the time from the
//        worker's start to the last job completed.
// Prints one JSON object.  Every wait is bounded (--timeout seconds).
// The jobs are left in the store (bench/run flushes its own store between
// scenarios), so that cleaning up is not counted as the store's work.
import { Queue, Worker } from "bullmq";

const args = process.argv.slice(2);
const mode = args[0];
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const n = Number(opt("-n", "10000"));
const connection = { host: opt("--host", "127.0.0.1"), port: Number(opt("--port", "6379")) };
const concurrency = Number(opt("--concurrency", "50"));
const timeoutMs = Number(opt("--timeout", "300")) * 1000;
const name = `bench${process.pid}${Date.now()}`;
const CHUNK = 1000;

async function fill(queue) {
  const t0 = performance.now();
  for (let i = 0; i < n; i += CHUNK) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++)
      jobs.push({ name: "t", data: { t: Date.now(), i: j } });
    await queue.addBulk(jobs);
  }
  return (performance.now() - t0) / 1000;
}

async function drain(queue) {
  let done = 0;
  let resolve;
  const finished = new Promise((r) => { resolve = r; });
  const t0 = performance.now();
  const worker = new Worker(name, async () => null, { connection, concurrency });
  worker.on("completed", () => { if (++done === n) resolve(); });
  const timer = setTimeout(resolve, timeoutMs);
  await finished;
  const s = (performance.now() - t0) / 1000;
  clearTimeout(timer);
  await worker.close();
  return { s, done };
}

const queue = new Queue(name, { connection });
await queue.waitUntilReady();
const fillS = await fill(queue);
let out = { scenario: `bullmq-${mode}`, peer: "bullmq", mode, n, queue: name, fill_seconds: fillS,
  fill_per_second: n / fillS };
if (mode === "drain") {
  const { s, done } = await drain(queue);
  out = { ...out, concurrency, seconds: s, completed: done, per_second: done / s };
} else if (mode === "bulk") {
  out = { ...out, seconds: fillS, completed: n, per_second: n / fillS };
} else {
  console.error(`bench.mjs: unknown mode ${mode}`);
  process.exit(64);
}
await queue.close();
console.log(JSON.stringify(out));
