// ion-module against a real `ion sidecar --development`, with node's built-in test runner.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Module, ModuleError, SidecarError } from "../src/index.js";
import { DEADLINE_MS, DevSidecar, type SidecarOptions, freePort, get, removeTempDirs, tempDir } from "./devsidecar.js";

const INDEX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "index.js");
const started: DevSidecar[] = [];

function startSidecar(options: SidecarOptions = {}): DevSidecar {
  const sidecar = new DevSidecar(options);
  started.push(sidecar);
  return sidecar;
}

after(async () => {
  await Promise.all(started.map((s) => s.stop()));
  removeTempDirs();
});

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

test("ready waits for a late sidecar, then inputs are delivered", async () => {
  const dir = tempDir();
  const port = await freePort();
  const secret = randomBytes(32).toString("base64url");
  const baseDir = path.join(dir, "job");
  const env = { SIDECAR_PORT: String(port), SHARED_SECRET: secret, SIDECAR_BASE_DIR: baseDir };
  let settled = false;
  const opening = Module.open({ env, deadlineMs: DEADLINE_MS }).finally(() => (settled = true));
  opening.catch(() => undefined); // awaited below
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(settled, false, "Module.open settled before the sidecar started"); // still retrying

  fs.writeFileSync(path.join(dir, "photo.bin"), Buffer.from("\x00\x01binary", "latin1"));
  fs.writeFileSync(path.join(dir, "notes.txt"), "hello");
  const sidecar = startSidecar({
    port, baseDir, secret, data: { lang: "en", count: "3" },
    files: { "photo.bin": path.join(dir, "photo.bin"), "docs/notes.txt": path.join(dir, "notes.txt") },
  });
  const printed = await sidecar.waitReady();
  const module = await opening;
  assert.deepEqual(module.data, { lang: "en", count: "3" });
  assert.equal(module.eventId, printed.ION_EVENT_ID);
  assert.equal(module.correlationId, printed.ION_CORRELATION_ID);
  assert.deepEqual(module.inputFiles(), ["docs/notes.txt", "photo.bin"]);
  assert.deepEqual(module.readInput("photo.bin"), Buffer.from("\x00\x01binary", "latin1"));
  assert.equal(module.readInputText("docs/notes.txt"), "hello");
  assert.throws(() => module.inputPath("missing.txt"), /missing\.txt/);
  await module.done();
  assert.equal(await sidecar.waitExit(), 0);
});

test("publish with files and an object insight are committed", async () => {
  const sidecar = startSidecar({ publishes: "part_ready", keepRunning: true });
  const env = await sidecar.waitReady();
  const module = await Module.open({ env });
  module.writeFile("parts/a.txt", "first part");
  module.writeFile("b.bin", new Uint8Array([0xff]));
  module.publish("part_ready", { files: ["parts/a.txt", "b.bin"], data: { index: 1, name: "a" } });
  module.insight({ parts: 2, tags: ["x", "y"] });
  await module.done();

  const children = sidecar.committedChildren();
  assert.equal(children.length, 1);
  assert.equal(children[0]?.type, "part_ready");
  assert.deepEqual(children[0]?.files, ["b.bin", "parts/a.txt"]);
  assert.deepEqual(children[0]?.data, { index: "1", name: "a" });
  assert.deepEqual(readJson(path.join(env.SIDECAR_BASE_DIR as string, "out", "meta.json")), { parts: 2, tags: ["x", "y"] });
});

test("insight in the list-of-pairs form", async () => {
  const sidecar = startSidecar();
  const env = await sidecar.waitReady();
  const module = await Module.open({ env });
  module.insight({ label: "cat" }, { asPairs: true });
  module.insight({ score: 0.9 }, { asPairs: true });
  assert.deepEqual(readJson(path.join(env.SIDECAR_BASE_DIR as string, "out", "meta.json")), [
    { key: "label", value: "cat" },
    { key: "score", value: "0.9" },
  ]);
  await module.done(); // the sidecar accepts the original form
  assert.equal(await sidecar.waitExit(), 0);
});

test("an invalid output surfaces the sidecar's message", async () => {
  const sidecar = startSidecar({ publishes: "allowed_type", keepRunning: true });
  const env = await sidecar.waitReady();
  const module = await Module.open({ env });
  module.publish("not_declared", { data: { k: "v" } });
  await assert.rejects(module.done(), (error: unknown) => {
    assert.ok(error instanceof SidecarError);
    assert.equal(error.statusCode, 400);
    assert.match(error.sidecarMessage, /out\/events\/1\.json/);
    assert.match(error.sidecarMessage, /not_declared/);
    return true;
  });
  assert.deepEqual(sidecar.committedChildren(), []); // nothing committed
});

function runModule(source: string, env: Record<string, string>): { status: number | null; output: string } {
  const script = `import { run } from ${JSON.stringify(INDEX)};\n${source}`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: DEADLINE_MS,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test("run does not call /done when the handler fails", async () => {
  const sidecar = startSidecar({ keepRunning: true });
  const env = await sidecar.waitReady();
  const { status, output } = runModule(
    `await run(async (m) => {
       m.writeFile("half.txt", "half done");
       m.publish("anything", { files: ["half.txt"] });
       throw new Error("the model file is corrupt");
     });`,
    env,
  );
  assert.equal(status, 1, output);
  assert.match(output, /the model file is corrupt/);
  assert.ok(!output.includes(env.SHARED_SECRET as string), "the secret appears in the module's output");
  // The first /done is still the sidecar's to accept: the failed module never called it.
  assert.equal(await get(env, "/done"), 200);
});

test("run calls /done and exits 0 when the handler succeeds", async () => {
  const sidecar = startSidecar({ publishes: "greeted", keepRunning: true });
  const env = await sidecar.waitReady();
  const { status, output } = runModule(
    `await run((m) => { m.writeFile("hi.txt", "hi"); m.publish("greeted", { files: ["hi.txt"] }); });`,
    env,
  );
  assert.equal(status, 0, output);
  assert.equal(await get(env, "/done"), 409); // already called, once, by run()
  assert.deepEqual(sidecar.committedChildren().map((c) => c.files), [["hi.txt"]]);
});

test("missing environment names the variables", async () => {
  await assert.rejects(Module.open({ env: { SIDECAR_PORT: "1" } }), (error: unknown) => {
    assert.ok(error instanceof ModuleError);
    assert.match(error.message, /SHARED_SECRET, SIDECAR_BASE_DIR/);
    return true;
  });
});

test("a sidecar that never comes is reported with its port", async () => {
  const port = await freePort();
  const env = { SIDECAR_PORT: String(port), SHARED_SECRET: "s", SIDECAR_BASE_DIR: tempDir() };
  await assert.rejects(Module.open({ env, deadlineMs: 300 }), new RegExp(`port ${port}`));
});

test("paths must stay inside their folder", async () => {
  const sidecar = startSidecar({ keepRunning: true });
  const env = await sidecar.waitReady();
  const module = await Module.open({ env });
  for (const bad of ["../escape.txt", "/etc/passwd", "a/../../b", ""]) {
    assert.throws(() => module.writeFile(bad, "x"), ModuleError);
    assert.throws(() => module.publish("t", { files: [bad] }), ModuleError);
  }
  const events = path.join(env.SIDECAR_BASE_DIR as string, "out", "events");
  const written = (): string[] => (fs.existsSync(events) ? fs.readdirSync(events) : []);
  assert.deepEqual(written(), []); // a rejected publish writes nothing and takes no number
  module.publish("t");
  assert.deepEqual(written(), ["1.json"]);
});
