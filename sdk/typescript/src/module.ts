// A module's view of its job: inputs in in/, outputs in out/, and the sidecar calls around them.
import * as fs from "node:fs";
import * as path from "node:path";
import { type ReadyOptions, SidecarClient } from "./sidecar.js";

export type Environment = Record<string, string | undefined>;

export interface OpenOptions extends ReadyOptions {
  /** The environment to read (default process.env). */
  env?: Environment;
}

export interface PublishOptions {
  /** Files relative to out/data. */
  files?: string[];
  data?: Record<string, string | number | boolean>;
  /** Event file name without ".json" (default: a counter from 1, in publish order). */
  name?: string;
}

export interface InsightOptions {
  /** Write the original list of {"key","value"} pairs (values become strings) instead of an object. */
  asPairs?: boolean;
}

/** The helper was used wrongly (missing environment, a path outside its folder, ...). */
export class ModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModuleError";
  }
}

/** A safe relative path ("/" separated): not absolute, no "..", so it stays inside its folder. */
function relative(name: string, what: string): string {
  const slashed = name.split(path.sep).join("/");
  const clean = path.posix.normalize(slashed);
  if (!name || clean === "." || path.posix.isAbsolute(clean) || slashed.split("/").includes("..")) {
    throw new ModuleError(`${what} ${JSON.stringify(name)} must be a relative path inside its folder (no '..', no '/...')`);
  }
  return clean;
}

function asText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** One job's context. Use `Module.open()` (or `run(handler)`), then `done()` exactly once. */
export class Module {
  eventId: string;
  correlationId: string;
  eventType: string;
  moduleName: string;
  /** The triggering event's key/value data. */
  data: Record<string, string> = {};
  /** in/event.json as read, or undefined when the sidecar did not write it. */
  event: Record<string, unknown> | undefined;

  readonly #client: SidecarClient;
  readonly #insight = new Map<string, unknown>();
  #events = 0;
  #finished = false;

  private constructor(
    readonly baseDir: string,
    client: SidecarClient,
    env: Environment,
  ) {
    this.#client = client;
    this.eventId = env.ION_EVENT_ID ?? "";
    this.correlationId = env.ION_CORRELATION_ID ?? "";
    this.eventType = env.ION_EVENT_TYPE ?? "";
    this.moduleName = env.ION_MODULE_NAME ?? "";
  }

  /** Reads the environment, waits for the sidecar's /ready, then reads the triggering event. */
  static async open(options: OpenOptions = {}): Promise<Module> {
    const env = options.env ?? process.env;
    const missing = ["SIDECAR_PORT", "SHARED_SECRET", "SIDECAR_BASE_DIR"].filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new ModuleError(`missing environment variable(s) ${missing.join(", ")}: is this an Ion job?`);
    }
    const port = Number(env.SIDECAR_PORT);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new ModuleError(`SIDECAR_PORT must be a port number, got ${JSON.stringify(env.SIDECAR_PORT)}`);
    }
    const module = new Module(env.SIDECAR_BASE_DIR as string, new SidecarClient(port, env.SHARED_SECRET as string), env);
    await module.#client.ready(options);
    module.#readEvent();
    return module;
  }

  #readEvent(): void {
    const eventFile = path.join(this.baseDir, "in", "event.json");
    const metaFile = path.join(this.baseDir, "in", "meta.json");
    if (fs.existsSync(eventFile)) {
      const event: unknown = JSON.parse(fs.readFileSync(eventFile, "utf8"));
      if (event !== null && typeof event === "object" && !Array.isArray(event)) {
        const e = event as Record<string, unknown>;
        this.event = e;
        if (typeof e.id === "string" && e.id) this.eventId = e.id;
        if (typeof e.type === "string" && e.type) this.eventType = e.type;
        const correlation = e.correlation_id ?? e.correlationId;
        if (typeof correlation === "string" && correlation) this.correlationId = correlation;
        if (e.data !== null && typeof e.data === "object" && !Array.isArray(e.data)) {
          this.data = Object.fromEntries(Object.entries(e.data).map(([k, v]) => [k, String(v)]));
          return;
        }
      }
    }
    if (fs.existsSync(metaFile)) {
      const pairs: unknown = JSON.parse(fs.readFileSync(metaFile, "utf8"));
      if (Array.isArray(pairs)) {
        for (const pair of pairs as Array<{ key?: unknown; value?: unknown }>) {
          if (pair && typeof pair.key === "string") this.data[pair.key] = String(pair.value ?? "");
        }
      }
    }
  }

  // -- inputs ---------------------------------------------------------------------------------

  get inputDir(): string {
    return path.join(this.baseDir, "in", "data");
  }

  get outputDir(): string {
    return path.join(this.baseDir, "out", "data");
  }

  /** Relative names ("/" separated) of every input file, sorted. */
  inputFiles(): string[] {
    const root = this.inputDir;
    if (!fs.existsSync(root)) return [];
    const names: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.isFile()) names.push(path.relative(root, full).split(path.sep).join("/"));
      }
    };
    walk(root);
    return names.sort();
  }

  /** Path of an input file; throws, naming the file, when the event did not carry it. */
  inputPath(name: string): string {
    const file = path.join(this.inputDir, relative(name, "input file"));
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      throw new ModuleError(`input file ${JSON.stringify(name)} is not in in/data (inputs: ${this.inputFiles().join(", ")})`);
    }
    return file;
  }

  readInput(name: string): Buffer {
    return fs.readFileSync(this.inputPath(name));
  }

  readInputText(name: string): string {
    return fs.readFileSync(this.inputPath(name), "utf8");
  }

  // -- outputs --------------------------------------------------------------------------------

  /** Where to write an output file; its sub-folders are created. */
  outputPath(name: string): string {
    const file = path.join(this.outputDir, relative(name, "output file"));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    return file;
  }

  writeFile(name: string, content: string | Uint8Array): string {
    const file = this.outputPath(name);
    fs.writeFileSync(file, content);
    return file;
  }

  /**
   * Writes out/events/<n>.json; the sidecar checks and publishes it on done(). Event files are
   * numbered in publish order, so a retried job writes the same names and the same child event ids.
   */
  publish(eventType: string, options: PublishOptions = {}): string {
    const files = (options.files ?? []).map((f) => relative(f, "event file"));
    this.#events += 1;
    const fileName = relative(`${options.name ?? this.#events}.json`, "event file name");
    const data = Object.fromEntries(Object.entries(options.data ?? {}).map(([k, v]) => [k, String(v)]));
    return this.#writeJson(path.join("out", "events", fileName), { eventType, files, data });
  }

  /** Records an insight in out/meta.json; later calls add keys to earlier ones. */
  insight(data: Record<string, unknown>, options: InsightOptions = {}): string {
    for (const [key, value] of Object.entries(data)) this.#insight.set(key, value);
    const document = options.asPairs
      ? [...this.#insight].map(([key, value]) => ({ key, value: asText(value) }))
      : Object.fromEntries(this.#insight);
    return this.#writeJson(path.join("out", "meta.json"), document);
  }

  #writeJson(rel: string, document: unknown): string {
    const file = path.join(this.baseDir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(document, null, 2));
    return file;
  }

  // -- finishing ------------------------------------------------------------------------------

  /** Calls /done once; rejects with SidecarError carrying the sidecar's message when out/ is invalid. */
  async done(): Promise<void> {
    if (this.#finished) throw new ModuleError("done() was already called; the sidecar accepts it once");
    this.#finished = true;
    await this.#client.done();
  }
}
